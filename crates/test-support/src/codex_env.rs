//! Throwaway directories for one run of the real `codex app-server`.

use std::path::{Path, PathBuf};

/// The pinned Codex binary: `PERCH_CODEX_BIN`, else the project-local install
/// that `scripts/setup` makes under `tools/codex`.
pub fn codex_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("PERCH_CODEX_BIN") {
        return PathBuf::from(bin);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex")
}

/// `root/{codex_home,tmp,work,data}`. `tmp` is the child's TMPDIR and is not a
/// parent of `codex_home`: Codex refuses to set up its sandbox helpers under
/// the temp dir, and then every sandboxed shell command fails.
pub struct CodexEnv {
    root: tempfile::TempDir,
}

impl CodexEnv {
    pub fn new() -> std::io::Result<Self> {
        let root = tempfile::Builder::new().prefix("perch-test-").tempdir()?;
        for dir in ["codex_home", "tmp", "work", "data"] {
            std::fs::create_dir_all(root.path().join(dir))?;
        }
        // No curated-plugin sync attempts to the network.
        std::fs::write(
            root.path().join("codex_home/config.toml"),
            "[features]\nplugins = false\n",
        )?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }
    pub fn codex_home(&self) -> PathBuf {
        self.root.path().join("codex_home")
    }
    pub fn tmp(&self) -> PathBuf {
        self.root.path().join("tmp")
    }
    pub fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }
    pub fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// A Perch `config.toml` that runs this env's Codex (the pinned binary,
    /// its own CODEX_HOME and working dir) against the scripted model at
    /// `base_url`, with `approval_policy` (`open`, `guarded`, `read-only`).
    /// Text, not a `Config`: this crate sits below the runtime.
    pub fn perch_config(&self, base_url: &str, approval_policy: &str) -> String {
        let quote = |p: PathBuf| format!("{:?}", p.display().to_string());
        format!(
            "[codex]\nbin = {}\nhome = {}\ncwd = {}\napproval_policy = {approval_policy:?}\nmodel = \"mock-model\"\n\n\
             [provider]\nid = \"scripted\"\nname = \"Scripted model\"\nbase_url = {base_url:?}\nwire_api = \"responses\"\n",
            quote(codex_bin()),
            quote(self.codex_home()),
            quote(self.work()),
        )
    }

    /// Points Codex's ChatGPT backend at the scripted model's stand-in
    /// sign-in ([`crate::sign_in`]); the issuer itself is the environment
    /// variable `CODEX_APP_SERVER_LOGIN_ISSUER` of the Codex child.
    pub fn use_sign_in_stand_in(&self, chatgpt_base_url: &str) -> std::io::Result<()> {
        std::fs::write(
            self.codex_home().join("config.toml"),
            format!("chatgpt_base_url = {chatgpt_base_url:?}\n\n[features]\nplugins = false\n"),
        )
    }

    /// Points Codex's default provider at the scripted model (for tests that
    /// drive Codex without Perch's own provider configuration).
    pub fn use_scripted_provider(&self, base_url: &str) -> std::io::Result<()> {
        let config = format!(
            "model = \"mock-model\"\nmodel_provider = \"scripted\"\napproval_policy = \"never\"\nsandbox_mode = \"read-only\"\n\n\
             [features]\nplugins = false\n\n\
             [model_providers.scripted]\nname = \"Scripted\"\nbase_url = \"{base_url}\"\nwire_api = \"responses\"\n\
             request_max_retries = 0\nstream_max_retries = 0\n"
        );
        std::fs::write(self.codex_home().join("config.toml"), config)
    }
}
