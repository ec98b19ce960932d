//! The `sessionwarden` binary: `serve` (the default), `keys`, `sessions` and `users`.

use std::process::ExitCode;

use clap::Parser as _;
use sessionwarden_server::cli::{Cli, Command, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    sessionwarden_server::logging::init(cli.log_format);
    let keyring = cli.keyring_path();
    let data_dir = cli.data_dir.clone();
    let with_dir = |mut args: ServeArgs| {
        args.data_dir.clone_from(&data_dir);
        args
    };
    let result = match cli.command {
        Some(Command::Keys { command, store }) => runtime().and_then(|rt| {
            let args = with_dir(*store);
            rt.block_on(sessionwarden_server::keys::run_configured(
                &command,
                &args.key_settings(),
                &args.store_settings(),
                &keyring,
                &mut std::io::stdout(),
            ))
        }),
        Some(Command::Sessions { command, store }) => runtime().and_then(|rt| {
            rt.block_on(sessionwarden_server::stores::run(
                &command,
                &with_dir(*store).store_settings(),
                &mut std::io::stdout(),
            ))
        }),
        Some(Command::Events { args, store }) => runtime().and_then(|rt| {
            rt.block_on(sessionwarden_server::events::run(
                &args,
                &with_dir(*store).store_settings(),
                &mut std::io::stdout(),
            ))
        }),
        Some(Command::Users { command, store }) => runtime().and_then(|rt| {
            rt.block_on(sessionwarden_server::run_users(
                &command,
                with_dir(*store),
                keyring,
                &mut std::io::stdout(),
            ))
        }),
        Some(Command::Serve(args)) => run_server(with_dir(args), keyring),
        None => run_server(with_dir(cli.serve), keyring),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn run_server(args: ServeArgs, keyring: std::path::PathBuf) -> anyhow::Result<()> {
    runtime()?.block_on(sessionwarden_server::serve(args, keyring))
}
