struct S;

// Functions with the same name under exclusive cfgs are fine...
#[reflex::service(name = "s", version = "1")]
impl S {
    #[cfg(all())]
    fn t(&self) -> i64 {
        1
    }

    #[cfg(not(all()))]
    #[rpc(name = "t")]
    fn t2(&self) -> u8 {
        1
    }

    // ...but not when both are compiled in.
    #[cfg(all())]
    #[rpc(name = "t")]
    fn t3(&self) {}
}

fn main() {}
