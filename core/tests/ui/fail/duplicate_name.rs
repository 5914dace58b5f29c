struct S;

#[reflex::service(name = "s", version = "1")]
impl S {
    fn ping(&self) {}

    #[rpc(name = "ping")]
    fn ping2(&self) {}
}

fn main() {}
