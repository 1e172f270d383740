fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(vnet::run(std::env::args_os()))
}
