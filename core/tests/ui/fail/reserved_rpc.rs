struct S;

#[reflex::service(name = "s", version = "1")]
impl S {
    #[rpc(name = "rpc.x")]
    fn x(&self) {}
}

fn main() {}
