//! `make docs`: writes the registry-layout documentation generated from the schemas.

fn main() -> std::process::ExitCode {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match terraform_provider_mixpanel::docs::write(&repo) {
        Ok(files) => {
            for f in files {
                println!("wrote {f}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write the docs: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
