#[derive(reflex::Type)]
enum Level {
    Low,
}

#[derive(reflex::Type)]
struct Reading {
    level: Level,
}

struct S;

// `u8` is not a custom type, and `Reading` uses `Level`, which is not listed.
#[reflex::service(name = "s", version = "1", types(u8, Reading))]
impl S {}

fn main() {}
