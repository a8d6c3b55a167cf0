//! What a child sets up before its target: the environment and working directory its
//! builder asked for ([`ChildSetup`]). (Then it runs the program's start-up hook,
//! [`crate::set_child_startup`].)

use std::ffi::OsString;

use serde::{Deserialize, Serialize};

use crate::sys;

/// The environment and working directory of one child, as set on its builder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ChildSetup {
    /// Start from an empty environment (`ProcessBuilder::env_clear`).
    pub(crate) env_clear: bool,
    /// Variables set (`Some`) or removed (`None`), in call order.
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    /// The working directory (`ProcessBuilder::current_dir`), relative to the
    /// parent's working directory at start when relative (the child inherits it).
    pub(crate) cwd: Option<OsString>,
}

impl ChildSetup {
    /// Whether the environment is changed at all.
    pub(crate) fn changes_env(&self) -> bool {
        self.env_clear || !self.env.is_empty()
    }

    /// Applies the environment to a command about to `execve` (Spawn: the new
    /// program sees it from its first instruction).
    pub(crate) fn apply_env_to(&self, cmd: &mut std::process::Command) {
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
    }

    /// Applies the environment (when `env`) and the working directory in this
    /// process, a new child about to run its target.
    ///
    /// Called only in a child with a single thread (a fork of the parent or of the
    /// fork server, before the target runs), which is what `std::env::set_var`
    /// requires.
    pub(crate) fn apply_here(&self, env: bool) -> Result<(), String> {
        if env && self.changes_env() {
            if self.env_clear {
                for (k, _) in std::env::vars_os() {
                    sys::single_threaded_env_set(&k, None);
                }
            }
            for (k, v) in &self.env {
                sys::single_threaded_env_set(k, v.as_deref());
            }
        }
        if let Some(dir) = &self.cwd {
            std::env::set_current_dir(dir).map_err(|e| {
                format!(
                    "could not change the working directory to {}: {e}",
                    std::path::Path::new(dir).display()
                )
            })?;
        }
        Ok(())
    }
}
