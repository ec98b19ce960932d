//! The `sessionwarden` binary: `serve` (the default) and `keys`.

use std::process::ExitCode;

use clap::Parser as _;
use sessionwarden_server::cli::{Cli, Command, LogFormat, ServeArgs};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => subscriber.json().init(),
        LogFormat::Text => subscriber.init(),
    }
    let keyring = cli.keyring_path();
    let result = match cli.command {
        Some(Command::Keys(cmd)) => sessionwarden_server::keys::run(&cmd, &keyring, &mut std::io::stdout()),
        Some(Command::Serve(args)) => run_server(args, keyring),
        None => run_server(ServeArgs::default(), keyring),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(args: ServeArgs, keyring: std::path::PathBuf) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(sessionwarden_server::serve(args, keyring))
}
