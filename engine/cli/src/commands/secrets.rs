//! `capstan secrets …`: thin wrappers over capstan-secrets.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;

use capstan_core::Sensitive;
use capstan_secrets as secrets;

use crate::args::{RecipientsCommand, SecretsCommand};

pub fn run(cmd: &SecretsCommand) -> anyhow::Result<ExitCode> {
    let env = secrets::Env::from_process();
    let identity = secrets::identity_path(&env)?;
    let mut stdout = std::io::stdout().lock();
    match cmd {
        SecretsCommand::Keygen => {
            let recipient = secrets::keygen(&identity)?;
            eprintln!(
                "Wrote a new identity to {} (back it up: capstan secrets export-keys).",
                identity.display()
            );
            writeln!(stdout, "{recipient}")?;
        }
        SecretsCommand::Set { file, key } => {
            let mut value = String::new();
            std::io::stdin().read_to_string(&mut value).context("reading the value from standard input")?;
            // `echo value | capstan secrets set` should not store the newline.
            if value.ends_with('\n') {
                value.pop();
                if value.ends_with('\r') {
                    value.pop();
                }
            }
            secrets::set(&identity, file, key, Sensitive::new(value))?;
            eprintln!("Set {key} in {}.", file.display());
        }
        SecretsCommand::Show { file, reveal } => secrets::show(&identity, file, *reveal, &mut stdout)?,
        SecretsCommand::Edit { file } => {
            let editor =
                std::env::var("VISUAL").or_else(|_| std::env::var("EDITOR")).unwrap_or_else(|_| "vi".into());
            let temp_root = std::env::var_os("XDG_RUNTIME_DIR").map_or_else(std::env::temp_dir, Into::into);
            let mut input = std::io::stdin().lock();
            let mut prompt = std::io::stderr();
            let mut editor =
                secrets::CommandEditor { command: editor, prompt_in: &mut input, prompt_out: &mut prompt };
            let summary = secrets::edit(&identity, file, &temp_root, &mut editor)?;
            eprintln!(
                "{}: {} added, {} changed, {} removed.",
                file.display(),
                summary.added.len(),
                summary.changed.len(),
                summary.removed.len()
            );
        }
        SecretsCommand::Recipients(RecipientsCommand::Add { stack_dir, recipient }) => {
            let files = secrets::recipients_add(&identity, stack_dir, recipient)?;
            eprintln!("Added the recipient to {} files.", files.len());
        }
        SecretsCommand::Recipients(RecipientsCommand::Remove { stack_dir, recipient }) => {
            let files = secrets::recipients_remove(&identity, stack_dir, recipient)?;
            eprintln!("Removed the recipient from {} files (each has a new data key).", files.len());
        }
        SecretsCommand::RotateKeys { stack_dir } => {
            let report = secrets::rotate_keys(&identity, stack_dir, secrets::RotateOptions::default())?;
            eprintln!(
                "Re-encrypted {} files. The old identity is kept in {}; commit the files and back up the new key.",
                report.files.len(),
                report.backup.display()
            );
            writeln!(stdout, "{}", report.new_recipient)?;
        }
        SecretsCommand::ExportKeys => secrets::export_keys(&identity, &mut stdout)?,
        SecretsCommand::ImportKeys => {
            let mut json = String::new();
            std::io::stdin().read_to_string(&mut json)?;
            let added = secrets::import_keys(&identity, &json)?;
            eprintln!("Imported {} identities into {}.", added.len(), identity.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
