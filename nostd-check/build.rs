fn main() {
    // The binary's entry point is C `main`, so link the C runtime.
    println!("cargo:rustc-link-arg-bins=-lc");
}
