fn main() -> std::process::ExitCode {
    loop_orchestrator::cli::run()
}
