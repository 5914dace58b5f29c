#[derive(reflex::Type)]
enum Shape {
    Point,
    Circle(f64),
    Rect { w: u32, h: u32 },
}

fn main() {}
