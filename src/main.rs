//! Thin multi-call entry point: the face (`singlet` front end or `singlet-oci`
//! runtime) is chosen from the basename of `argv[0]` in [`singlet::cli::main`].

fn main() -> std::process::ExitCode {
    singlet::cli::main()
}
