struct S;

#[reflex::service(name = "s", version = "1")]
impl S {
    #[allow(clippy::too_many_arguments)]
    fn many(
        &self,
        _a: u8,
        _b: u8,
        _c: u8,
        _d: u8,
        _e: u8,
        _f: u8,
        _g: u8,
        _h: u8,
        _i: u8,
        _j: u8,
        _k: u8,
        _l: u8,
        _m: u8,
        _n: u8,
        _o: u8,
        _p: u8,
        _q: u8,
    ) {
    }
}

fn main() {}
