fn main() -> std::process::ExitCode {
    loop_orchestrator::run()
}
