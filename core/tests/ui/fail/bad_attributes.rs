struct S;

#[reflex::service(name = "s", version = "1", colour = "red")]
impl S {}

struct T;

#[reflex::service(version = "1")]
impl T {
    #[rpc(result_type = "hashmap")]
    fn a(&self) {}

    #[rpc(nmae = "b")]
    fn b(&self) {}
}

fn main() {}
