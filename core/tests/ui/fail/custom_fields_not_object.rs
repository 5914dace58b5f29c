struct S;

#[reflex::service(name = "s", version = "1", custom_fields = "[1, 2]")]
impl S {}

struct T;

#[reflex::service(name = "t", version = "1", custom_fields = r#"{"board": }"#)]
impl T {}

fn main() {}
