#[derive(reflex::Type)]
struct Address<'a> {
    city: &'a str,
}

struct S;

#[reflex::service(name = "s", version = "1")]
impl S {
    fn hash_echo(&self, address: Address<'_>) -> bool {
        !address.city.is_empty()
    }
}

fn main() {}
