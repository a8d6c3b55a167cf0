//! Test helper of multiproc-mpi: a *different* executable that also calls `init`, to
//! check that a job mixing two programs is refused.

fn main() -> std::process::ExitCode {
    match multiproc_mpi::init() {
        Ok(_) => {
            println!("twin: accepted (unexpected)");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("twin refused: {e}");
            std::process::ExitCode::from(3)
        }
    }
}
