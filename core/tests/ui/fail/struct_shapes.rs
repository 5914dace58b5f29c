#[derive(reflex::Type)]
struct Tuple(u8);

#[derive(reflex::Type)]
struct Unit;

#[derive(reflex::Type)]
struct Generic<T> {
    t: T,
}

#[derive(reflex::Type)]
struct TwoLifetimes<'a, 'b> {
    a: &'a str,
    b: &'b str,
}

fn main() {}
