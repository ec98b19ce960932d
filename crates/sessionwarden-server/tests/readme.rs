//! The READMEs' shell commands, run as printed against the built binary.
//!
//! Every fenced `sh`, `bash`, `shell` or `console` block of the README (the root one, and each
//! crate's `README.md`) is read with a Markdown parser. In a `console` block a command is a line starting with `$ ` (continued by a trailing
//! `\`), and the lines after it, up to the next command, are what it prints: the test compares
//! them with the command's standard output (`…` stands for any text; a command shown with no
//! output is not compared). In the other blocks every line that is not a comment is a command.
//! Each command must exit 0. Every command is either run or named in [`NOT_RUN`] with the reason
//! it cannot be: one that is neither fails the test, so the README cannot grow an untested
//! command, and a [`NOT_RUN`] entry the README no longer has fails it too.
//!
//! An HTML comment right before a block (invisible on GitHub and crates.io) says how it runs:
//! `<!-- readme-test: scenario=NAME -->` puts it in a scenario, and `server` marks every
//! command of the block as long-running (the quick start's `cargo run --release`, meant for
//! "another terminal"). The blocks of one scenario run in README order in one shell (variables
//! such as a CSRF token carry over) in one fresh temporary directory, so `./data` (the keyring
//! and the embedded SQLite store) is new for each scenario. A block with no marker is a
//! scenario of its own. A command ending in `&` is long-running too. A long-running command is
//! started, awaited until its `/readyz` answers 200 (polled; it fails at once if the process
//! exits first), and stopped with SIGTERM at the end of its scenario, after which it must exit
//! with success.
//!
//! What differs from a reader's terminal, and why:
//! - The address. A server gets `SESSIONWARDEN_LISTEN=127.0.0.1:0` (and a `127.0.0.1:8000` in
//!   its command becomes `127.0.0.1:0`); in the commands after it, `127.0.0.1:8000` becomes the
//!   address it printed. So the test runs beside a server a developer has on port 8000, and
//!   beside other tests.
//! - `cargo run --release` runs the server binary this test was built with: the scenario's
//!   `PATH` starts with a `cargo` that accepts only `cargo run --release [-- ARGS]`. The test
//!   checks that this is the binary cargo would run (the workspace's default member is this
//!   package, whose only binary is `sessionwarden`); building a release binary inside a test
//!   would take minutes.
//! - `sessionwarden` is the binary this test was built with.
//! - The environment is empty but for `PATH`, `HOME` (the scenario's directory, so no
//!   `~/.curlrc`), `LANG` and the listen address: no `SECRET_KEY` or `SESSIONWARDEN_*` leaks in.
//!
//! Needs `bash`, `curl` and `jq`: under `CI=true` their absence fails the test, elsewhere it
//! skips with the reason printed.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use std::os::unix::process::CommandExt as _;

const BIN: &str = env!("CARGO_BIN_EXE_sessionwarden");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The root README, then each crate's, by name.
fn readmes() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("README.md"))
        .filter(|p| p.exists())
        .collect();
    crates.sort();
    std::iter::once(root.join("README.md")).chain(crates).collect()
}

/// Commands of the README the test does not run, each with the reason. Matched against the
/// command without its trailing `# comment`, continuation lines joined by one space.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "scripts/test",
        "the whole test suite: it runs this test, and starts PostgreSQL, Redis and Redis Cluster",
    ),
    ("bench/run", "the full comparison benchmark: about 25 minutes of release builds and load"),
    ("bench/run --smoke", "CI runs it as a step of its own (.ci/run), with release builds"),
];

/// The README's address for the server, replaced by the address the test's server printed.
const README_ADDR: &str = "127.0.0.1:8000";

/// How long one command or one server start may take before the test fails (not a wait: each
/// is awaited on its own condition; this only bounds a hang).
const LIMIT: Duration = Duration::from_secs(120);

// ---- reading the README ----

#[derive(Debug)]
struct Block {
    line: usize,
    scenario: Option<String>,
    server: bool,
    commands: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    /// As printed, continuation lines included.
    text: String,
    /// A `console` block's output lines under the command; empty elsewhere.
    expected: Vec<String>,
    line: usize,
}

impl Cmd {
    /// The command without comments, continuation lines joined: what [`NOT_RUN`] names.
    fn key(&self) -> String {
        let joined = self.text.replace("\\\n", " ");
        let code = strip_comments(&joined);
        code.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn long_running(&self) -> bool {
        let k = self.key();
        k.ends_with('&') && !k.ends_with("&&")
    }
}

/// `text` without shell comments (a `#` that begins a word, outside quotes), line by line.
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let (mut single, mut double, mut escaped, mut comment) = (false, false, false, false);
    let mut prev_blank = true;
    for c in text.chars() {
        if c == '\n' {
            comment = false;
            out.push(c);
            prev_blank = true;
            continue;
        }
        if comment {
            continue;
        }
        if escaped {
            escaped = false;
        } else if c == '\\' && !single {
            escaped = true;
        } else if c == '\'' && !double {
            single = !single;
        } else if c == '"' && !single {
            double = !double;
        } else if c == '#' && !single && !double && prev_blank {
            comment = true;
            continue;
        }
        prev_blank = c.is_whitespace();
        out.push(c);
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// The README's shell blocks, in order.
fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    // A marker waiting for its block: (scenario, server, line).
    let mut marker: Option<(Option<String>, bool, usize)> = None;
    // The block being read: (language, block, body).
    let mut current: Option<(String, Block, String)> = None;
    for (event, range) in Parser::new(readme).into_offset_iter() {
        match event {
            Event::Html(html) | Event::InlineHtml(html) if html.contains("readme-test:") => {
                let line = line_of(readme, range.start);
                assert!(marker.is_none(), "README line {line}: two readme-test markers for one block");
                marker = Some(parse_marker(&html, line));
            }
            Event::Start(Tag::HtmlBlock) => {}
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let lang = info.split_whitespace().next().unwrap_or("").to_owned();
                let line = line_of(readme, range.start);
                let (scenario, server) = match marker.take() {
                    Some((s, server, _)) => (s, server),
                    None => (None, false),
                };
                current = Some((lang, Block { line, scenario, server, commands: Vec::new() }, String::new()));
            }
            Event::Text(text) if current.is_some() => {
                current.as_mut().unwrap().2.push_str(&text);
            }
            Event::End(TagEnd::CodeBlock) => {
                let Some((lang, mut block, body)) = current.take() else { continue };
                let first = block.line + 1;
                match lang.as_str() {
                    "console" => block.commands = console_commands(&body, first),
                    "sh" | "bash" | "shell" => block.commands = script_commands(&body, first),
                    _ => {
                        if let Some((_, _, line)) = marker {
                            panic!("README line {line}: a readme-test marker before a {lang:?} block");
                        }
                        continue;
                    }
                }
                out.push(block);
            }
            Event::Start(_) => {
                if let Some((_, _, line)) = marker {
                    panic!("README line {line}: a readme-test marker must come right before a code block");
                }
            }
            _ => {}
        }
    }
    out
}

/// `scenario=NAME` and `server` from `<!-- readme-test: … -->`.
fn parse_marker(html: &str, line: usize) -> (Option<String>, bool, usize) {
    let inner = html
        .trim()
        .strip_prefix("<!--")
        .and_then(|s| s.strip_suffix("-->"))
        .and_then(|s| s.trim().strip_prefix("readme-test:"))
        .unwrap_or_else(|| panic!("README line {line}: a marker is `<!-- readme-test: … -->`, got {html:?}"));
    let (mut scenario, mut server) = (None, false);
    for word in inner.split_whitespace() {
        match word.split_once('=') {
            Some(("scenario", name)) if !name.is_empty() => scenario = Some(name.to_owned()),
            None if word == "server" => server = true,
            _ => panic!("README line {line}: unknown readme-test word {word:?} (scenario=NAME, server)"),
        }
    }
    (scenario, server, line)
}

/// A `console` block: `$ ` commands and the output under each.
fn console_commands(body: &str, first_line: usize) -> Vec<Cmd> {
    let mut cmds: Vec<Cmd> = Vec::new();
    let mut lines = body.lines().enumerate();
    while let Some((i, l)) = lines.next() {
        if let Some(rest) = l.strip_prefix("$ ") {
            let mut text = rest.to_owned();
            while text.ends_with('\\') {
                let (_, next) =
                    lines.next().unwrap_or_else(|| panic!("README line {}: \\ at the end", first_line + i));
                text.push('\n');
                text.push_str(next);
            }
            cmds.push(Cmd { text, expected: Vec::new(), line: first_line + i });
        } else {
            let cmd = cmds.last_mut().unwrap_or_else(|| {
                panic!("README line {}: output before any `$ ` command in a console block", first_line + i)
            });
            cmd.expected.push(l.to_owned());
        }
    }
    for c in &mut cmds {
        while c.expected.last().is_some_and(|l| l.trim().is_empty()) {
            c.expected.pop();
        }
    }
    cmds
}

/// An `sh` block: every line that is not blank or a comment.
fn script_commands(body: &str, first_line: usize) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    let mut lines = body.lines().enumerate();
    while let Some((i, l)) = lines.next() {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let mut text = l.to_owned();
        while text.ends_with('\\') {
            let (_, next) =
                lines.next().unwrap_or_else(|| panic!("README line {}: \\ at the end", first_line + i));
            text.push('\n');
            text.push_str(next);
        }
        cmds.push(Cmd { text, expected: Vec::new(), line: first_line + i });
    }
    cmds
}

/// Whether `actual` is `expected`, where `…` in `expected` stands for any text.
fn matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split('…').collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() || !actual.ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

// ---- running ----

fn kill_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill").args([signal, "--", &format!("-{pgid}")]).stderr(Stdio::null()).status();
}

/// One scenario's shell: commands run in it one after another, sharing variables.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    logs: PathBuf,
    n: usize,
}

impl Shell {
    fn start(work: &Path, logs: &Path, env: &[(String, String)]) -> Self {
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .current_dir(work)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(logs.join("shell.err")).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, stdin, lines, logs: logs.to_owned(), n: 0 }
    }

    /// Runs `text` in the shell; (exit code, stdout, stderr).
    fn run(&mut self, text: &str) -> (i32, String, String) {
        self.n += 1;
        let out = self.logs.join(format!("{}.out", self.n));
        let err = self.logs.join(format!("{}.err", self.n));
        // The command's output goes to files, so the shell's own stdout carries only the
        // status line below.
        writeln!(
            self.stdin,
            "{{ {text}\n}} >'{}' 2>'{}' </dev/null; printf '__readme_rc=%s\\n' \"$?\"",
            out.display(),
            err.display()
        )
        .unwrap();
        self.stdin.flush().unwrap();
        let rc = loop {
            match self.lines.recv_timeout(LIMIT) {
                Ok(line) => {
                    if let Some(rc) = line.strip_prefix("__readme_rc=") {
                        break rc.parse::<i32>().unwrap();
                    }
                }
                Err(e) => panic!(
                    "`{text}` did not finish within {LIMIT:?} ({e}); a server must end in `&` or stand \
                     in a block marked `<!-- readme-test: server -->`"
                ),
            }
        };
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        (rc, read(&out), read(&err))
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        kill_group(self.child.id(), "-KILL");
        let _ = self.child.wait();
    }
}

/// A long-running command, in its own process group.
struct Server {
    child: Child,
    text: String,
    stderr: PathBuf,
    addr: String,
}

impl Server {
    fn start(text: &str, work: &Path, logs: &Path, env: &[(String, String)], n: usize) -> Self {
        let stdout = logs.join(format!("server-{n}.out"));
        let stderr = logs.join(format!("server-{n}.err"));
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc", "-c", text])
            .current_dir(work)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let started = Instant::now();
        let mut addr = None;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "`{text}` exited ({status}) before it was ready; stderr:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            if addr.is_none() {
                addr = std::fs::read_to_string(&stdout)
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.split_once("listening on http://").map(|(_, a)| a.trim().to_owned()));
            }
            if let Some(a) = &addr {
                let url = format!("http://{a}/readyz");
                let ready = runtime.block_on(async {
                    client.get(&url).send().await.is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
                });
                if ready {
                    break;
                }
            }
            if started.elapsed() > LIMIT {
                kill_group(child.id(), "-KILL");
                panic!(
                    "`{text}` was not ready (/readyz 200) within {LIMIT:?}; printed address: {addr:?}; stderr:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            // Polling interval between checks of the two conditions above.
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, text: text.to_owned(), stderr, addr: addr.unwrap() }
    }

    /// SIGTERM, then the process must exit with success.
    fn stop(mut self) {
        kill_group(self.child.id(), "-TERM");
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(started.elapsed() < LIMIT, "`{}` did not stop within {LIMIT:?} of SIGTERM", self.text);
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "`{}` exited with {status} after SIGTERM; stderr:\n{}",
            self.text,
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            kill_group(self.child.id(), "-KILL");
            let _ = self.child.wait();
        }
    }
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let label: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let d = std::env::temp_dir().join(format!("sw-readme-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `cargo` on a scenario's `PATH`.
fn cargo_shim() -> String {
    format!(
        "#!/bin/sh\n\
         # The README test's cargo: `cargo run --release [-- ARGS]` runs the server binary the\n\
         # test was built with (the workspace's default member; the test checks that it is).\n\
         if [ \"$1\" = run ] && [ \"$2\" = --release ]; then\n\
         \x20 shift 2\n\
         \x20 if [ \"$1\" = -- ]; then shift; fi\n\
         \x20 exec '{BIN}' \"$@\"\n\
         fi\n\
         echo \"the README test runs only 'cargo run --release'; list 'cargo $*' in NOT_RUN with a reason\" >&2\n\
         exit 97\n"
    )
}

fn run_scenario(name: &str, blocks: &[&Block], not_run: &BTreeMap<String, &str>) {
    let root = TempDir::new(name);
    let (work, logs, bin) = (root.0.join("work"), root.0.join("logs"), root.0.join("bin"));
    for d in [&work, &logs, &bin] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(BIN, bin.join("sessionwarden")).unwrap();
    let shim = bin.join("cargo");
    std::fs::write(&shim, cargo_shim()).unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let env: Vec<(String, String)> = vec![
        ("PATH".into(), path),
        ("HOME".into(), work.display().to_string()),
        ("LANG".into(), "C.UTF-8".into()),
        ("SESSIONWARDEN_LISTEN".into(), "127.0.0.1:0".into()),
    ];
    let mut shell = Shell::start(&work, &logs, &env);
    let mut servers: Vec<Server> = Vec::new();
    for block in blocks {
        for cmd in &block.commands {
            let key = cmd.key();
            if let Some(why) = not_run.get(&key) {
                eprintln!("not run (README line {}): {key} — {why}", cmd.line);
                continue;
            }
            if block.server || cmd.long_running() {
                let text = cmd.text.replace(README_ADDR, "127.0.0.1:0");
                let text = text.trim_end().strip_suffix('&').unwrap_or(&text).to_owned();
                eprintln!("[{name}] starting (README line {}): {}", cmd.line, cmd.text);
                servers.push(Server::start(&text, &work, &logs, &env, servers.len()));
                continue;
            }
            let addr = servers.last().map(|s| s.addr.clone());
            let text = match &addr {
                Some(a) => cmd.text.replace(README_ADDR, a),
                None => {
                    assert!(
                        !cmd.text.contains(README_ADDR),
                        "README line {}: `{}` talks to {README_ADDR}, but its scenario ({name}) started no \
                         server: mark the block with the server's scenario (<!-- readme-test: scenario=NAME -->)",
                        cmd.line,
                        cmd.text
                    );
                    cmd.text.clone()
                }
            };
            eprintln!("[{name}] $ {}", cmd.text);
            let (rc, stdout, stderr) = shell.run(&text);
            assert_eq!(
                rc, 0,
                "README line {}: `{}` exited with {rc}\nstdout:\n{stdout}\nstderr:\n{stderr}",
                cmd.line, cmd.text
            );
            if !cmd.expected.is_empty() {
                let expected = cmd.expected.join("\n");
                let expected = match &addr {
                    Some(a) => expected.replace(README_ADDR, a),
                    None => expected,
                };
                let actual = stdout.trim_end();
                assert!(
                    matches(expected.trim_end(), actual),
                    "README line {}: `{}` printed\n{actual}\nbut the README shows\n{expected}\nstderr:\n{stderr}",
                    cmd.line,
                    cmd.text
                );
            }
        }
    }
    while let Some(s) = servers.pop() {
        s.stop();
    }
}

fn tools_present() -> bool {
    for tool in ["bash", "curl", "jq"] {
        let ok = Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        if !ok.is_ok_and(|s| s.success()) {
            sessionwarden_test::env::service_missing(tool, "the README's commands use it");
            return false;
        }
    }
    true
}

#[test]
fn every_readme_command_runs_as_printed() {
    let mut all: Vec<(String, Block)> = Vec::new();
    for path in readmes() {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.strip_prefix(ROOT).unwrap_or(&path).display().to_string();
        let file = file.trim_start_matches('/').to_owned();
        let bs = std::panic::catch_unwind(|| blocks(&text)).unwrap_or_else(|_| panic!("reading {file}"));
        all.extend(bs.into_iter().map(|b| (file.clone(), b)));
    }
    assert!(all.len() >= 5, "found only {} shell blocks in the READMEs", all.len());
    let not_run: BTreeMap<String, &str> = NOT_RUN.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    // A NOT_RUN entry must still name a README command.
    let keys: Vec<String> = all.iter().flat_map(|(_, b)| b.commands.iter().map(Cmd::key)).collect();
    for k in not_run.keys() {
        assert!(keys.contains(k), "NOT_RUN names `{k}`, which no README has any more");
    }
    if !tools_present() {
        return;
    }
    // Scenarios in order of first appearance, per file; a block without one is its own.
    let mut scenarios: Vec<(String, Vec<&Block>)> = Vec::new();
    for (file, b) in &all {
        let name = match &b.scenario {
            Some(s) => format!("{file}:{s}"),
            None => format!("{file}:line-{}", b.line),
        };
        match scenarios.iter_mut().find(|(n, _)| *n == name) {
            Some((_, bs)) => bs.push(b),
            None => scenarios.push((name, vec![b])),
        }
    }
    for (name, bs) in &scenarios {
        run_scenario(name, bs, &not_run);
    }
}

/// `cargo run --release` in the README runs what the test runs in its place: the workspace's
/// default member is this package and `sessionwarden` is its only binary.
#[test]
fn cargo_run_release_is_the_server_binary() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline", "--manifest-path", manifest])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let defaults = meta["workspace_default_members"].as_array().unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let name_of = |id: &serde_json::Value| {
        packages.iter().find(|p| p["id"] == *id).map(|p| p["name"].as_str().unwrap().to_owned())
    };
    let names: Vec<_> = defaults.iter().filter_map(name_of).collect();
    assert_eq!(names, ["sessionwarden-server"], "the workspace's default members");
    let server = packages.iter().find(|p| p["name"] == "sessionwarden-server").unwrap();
    let bins: Vec<&str> = server["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(bins, ["sessionwarden"], "the server's binaries");
    assert!(BIN.ends_with("/sessionwarden"), "{BIN}");
}

/// The reading of blocks, on a small document with every case.
#[test]
fn blocks_are_read_as_documented() {
    let doc = "# t\n\n<!-- readme-test: scenario=a server -->\n```sh\ncargo run --release   # comment\n```\n\n\
               text\n\n<!-- readme-test: scenario=a -->\n```console\n$ curl -s \\\n    http://127.0.0.1:8000/x\nline one\n\
               {\"a\":\"…\"}\n$ X=$(echo '# not a comment')\n```\n\n```sh\n# only a comment\nbench/run    # slow\n\
               srv &\n```\n\n```rust\nlet x = 1;\n```\n";
    let bs = blocks(doc);
    assert_eq!(bs.len(), 3);
    assert_eq!((bs[0].scenario.as_deref(), bs[0].server), (Some("a"), true));
    assert_eq!(bs[0].commands[0].key(), "cargo run --release");
    assert_eq!((bs[1].scenario.as_deref(), bs[1].server), (Some("a"), false));
    assert_eq!(bs[1].commands.len(), 2);
    assert_eq!(bs[1].commands[0].key(), "curl -s http://127.0.0.1:8000/x");
    assert_eq!(bs[1].commands[0].expected, ["line one", "{\"a\":\"…\"}"]);
    assert_eq!(bs[1].commands[1].key(), "X=$(echo '# not a comment')");
    assert_eq!(bs[2].scenario, None);
    assert_eq!(bs[2].commands.iter().map(Cmd::key).collect::<Vec<_>>(), ["bench/run", "srv &"]);
    assert!(!bs[2].commands[0].long_running());
    assert!(bs[2].commands[1].long_running());
    assert!(matches("{\"a\":\"…\"}", "{\"a\":\"xyz\"}"));
    assert!(matches("a…b…c", "a1b2c"));
    assert!(!matches("a…b…c", "a1c"));
    assert!(!matches("User: admin", "User: None"));
    assert!(!matches("ab…ba", "aba"));
}

#[test]
#[should_panic(expected = "must come right before a code block")]
fn a_marker_away_from_its_block_is_refused() {
    blocks("<!-- readme-test: scenario=a -->\n\nsome text\n\n```sh\nls\n```\n");
}
