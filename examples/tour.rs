//! Runs every seed scenario in sequence.
fn main() {
    println!("multiproc tour");
}
