#[derive(reflex::Type)]
enum Level {
    Low,
}

struct S;

#[reflex::service(name = "s", version = "1")]
impl S {
    fn level(&self) -> heapless::Vec<Level, 2> {
        heapless::Vec::new()
    }
}

fn main() {}
