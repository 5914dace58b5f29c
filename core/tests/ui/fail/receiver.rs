struct S;

#[reflex::service(name = "s", version = "1")]
impl S {
    fn a(&mut self) {}
    fn b(self) {}
    fn c() {}
}

fn main() {}
