#[derive(reflex::Type)]
#[allow(non_camel_case_types)]
enum phoneType {
    Home,
}

#[derive(reflex::Type)]
#[reflex(name = "address")]
struct Address {
    city: u8,
}

fn main() {}
