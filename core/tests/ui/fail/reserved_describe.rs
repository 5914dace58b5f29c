struct S;

#[reflex::service(name = "s", version = "1")]
impl S {
    fn __describe_functions(&self) {}
}

fn main() {}
