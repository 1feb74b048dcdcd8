//! What each `capstan secrets ...` command does, as plain functions.
//!
//! The CLI only parses arguments and passes in the identity path (see
//! [`crate::identity_path`]), the files, and where output goes. Every write
//! is atomic; commands that touch several files write all or nothing (see
//! [`crate::transaction`]).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use capstan_core::{REDACTED, Sensitive};

use crate::error::{Result, SecretsError, io_err};
use crate::fsutil;
use crate::identity::{Identities, parse_recipient};
use crate::plaintext;
use crate::secret_file::SecretFile;
use crate::transaction::{self, FaultPoint, Rewrite};

/// Secrets files are meant to be committed; they are encrypted, so the usual
/// file mode applies unless the file already has another.
const SECRETS_FILE_MODE: u32 = 0o644;

fn out_err(e: std::io::Error) -> SecretsError {
    io_err("<output>")(e)
}

/// The mode a rewritten file keeps.
fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(SECRETS_FILE_MODE)
}

/// Opens `file` with the identities at `identity_path`.
pub fn open(identity_path: &Path, file: &Path) -> Result<SecretFile> {
    let identities = Identities::load(identity_path)?;
    SecretFile::open(file, &fsutil::read(file)?, &identities)
}

/// Opens `file`, or starts an empty one for the identity's own recipients if
/// it does not exist yet.
fn open_or_new(identities: &Identities, file: &Path) -> Result<(SecretFile, bool)> {
    match std::fs::read(file) {
        Ok(bytes) => Ok((SecretFile::open(file, &bytes, identities)?, true)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((SecretFile::new(identities.recipients())?, false))
        }
        Err(e) => Err(io_err(file)(e)),
    }
}

/// `capstan secrets set <file> <key>`: sets one secret, creating the file if
/// needed. A new file is encrypted to the identity's own recipients; an
/// existing one keeps its recipients.
pub fn set(identity_path: &Path, file: &Path, key: &str, value: Sensitive) -> Result<()> {
    let identities = Identities::load(identity_path)?;
    let (mut secrets, _) = open_or_new(&identities, file)?;
    secrets.set(file, key, value)?;
    fsutil::write_atomic(file, &secrets.seal(file)?, mode_of(file))
}

/// `capstan secrets show <file> [--reveal]`: one `name = value` line per
/// secret; values print as `(sensitive)` unless `reveal`.
pub fn show(identity_path: &Path, file: &Path, reveal: bool, out: &mut dyn Write) -> Result<()> {
    let secrets = open(identity_path, file)?;
    writeln!(
        out,
        "# {}: {} secret(s), recipients: {}",
        file.display(),
        secrets.values().len(),
        secrets.recipients().join(", ")
    )
    .map_err(out_err)?;
    if reveal {
        out.write_all(plaintext::render(secrets.values()).as_bytes()).map_err(out_err)?;
    } else {
        for name in secrets.values().keys() {
            writeln!(out, "{name} = {REDACTED}").map_err(out_err)?;
        }
    }
    Ok(())
}

/// Opens an editor on a file and, when the result does not parse, asks
/// whether to reopen it. The CLI uses [`CommandEditor`]; tests inject their own.
pub trait Editor {
    /// Lets the user change the clear-text file at `path`; returns when done.
    fn edit(&mut self, path: &Path) -> Result<()>;
    /// The edited text was refused for `problem`: `true` reopens the editor
    /// on the same text, `false` abandons the edit.
    fn reopen_after(&mut self, problem: &SecretsError) -> bool;
}

/// Runs a shell command such as `$EDITOR` (`vi`, `code --wait`) on the file
/// and asks on `prompt_in` / `prompt_out` whether to reopen after an error.
pub struct CommandEditor<'a> {
    /// Shell command to run, with the file path appended as `"$1"`, e.g. `code --wait`.
    pub command: String,
    /// Where the reopen answer is read from (stdin in the CLI).
    pub prompt_in: &'a mut dyn BufRead,
    /// Where the error and the `Reopen the editor to fix it? [Y/n]` prompt go.
    pub prompt_out: &'a mut dyn Write,
}

impl Editor for CommandEditor<'_> {
    fn edit(&mut self, path: &Path) -> Result<()> {
        // `sh -c '<command> "$1"'` so EDITOR may carry arguments, as git allows.
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{} \"$1\"", self.command))
            .arg("sh")
            .arg(path)
            .status()
            .map_err(|e| SecretsError::Editor {
                command: self.command.clone(),
                file: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(SecretsError::Editor {
                command: self.command.clone(),
                file: path.to_path_buf(),
                reason: format!("exited with {status}"),
            })
        }
    }

    fn reopen_after(&mut self, problem: &SecretsError) -> bool {
        let _ = write!(self.prompt_out, "{problem}\nReopen the editor to fix it? [Y/n] ");
        let _ = self.prompt_out.flush();
        let mut answer = String::new();
        if self.prompt_in.read_line(&mut answer).is_err() {
            return false;
        }
        !matches!(answer.trim().to_ascii_lowercase().as_str(), "n" | "no")
    }
}

/// What an edit changed, by name (never values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EditSummary {
    /// Names that are new, sorted.
    pub added: Vec<String>,
    /// Names whose value changed, sorted.
    pub changed: Vec<String>,
    /// Names that were deleted, sorted.
    pub removed: Vec<String>,
}

impl EditSummary {
    /// Whether the edit changed nothing; the file is then left untouched.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

const EDIT_HEADER: &str = "\
# Save and quit to re-encrypt; quit without changes to leave the file as it is.
# One `name = \"value\"` per secret (heredocs work too); delete a line to remove a secret.
";

/// `capstan secrets edit <file>`: decrypts into a private (0700) temp
/// directory under `temp_root`, runs `editor`, and re-encrypts on success.
/// Text that does not parse is refused and the editor reopened on it while
/// [`Editor::reopen_after`] says so. The temp directory is removed whatever
/// happens; the encrypted file changes only if the edit is accepted.
pub fn edit(
    identity_path: &Path,
    file: &Path,
    temp_root: &Path,
    editor: &mut dyn Editor,
) -> Result<EditSummary> {
    let identities = Identities::load(identity_path)?;
    let (mut secrets, _) = open_or_new(&identities, file)?;

    let dir = tempfile::Builder::new()
        .prefix("capstan-secrets-edit-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(temp_root)
        .map_err(io_err(temp_root))?;
    let temp = dir.path().join("secrets.hcl");
    let text = format!("# Editing {}\n{EDIT_HEADER}{}", file.display(), plaintext::render(secrets.values()));
    fsutil::write_new(&temp, text.as_bytes(), 0o600)?;

    let edited = loop {
        editor.edit(&temp)?;
        let text = std::fs::read_to_string(&temp).map_err(io_err(&temp))?;
        match plaintext::parse(file, &text) {
            Ok(values) => break values,
            Err(problem) => {
                if !editor.reopen_after(&problem) {
                    return Err(SecretsError::EditAbandoned { file: file.to_path_buf() });
                }
            }
        }
    };
    drop(dir);

    let summary = diff(secrets.values(), &edited);
    // Nothing changed: leave the file (or its absence) exactly as it was.
    if summary.is_empty() {
        return Ok(summary);
    }
    secrets.replace_values(file, edited)?;
    fsutil::write_atomic(file, &secrets.seal(file)?, mode_of(file))?;
    Ok(summary)
}

fn diff(before: &BTreeMap<String, Sensitive>, after: &BTreeMap<String, Sensitive>) -> EditSummary {
    let mut summary = EditSummary::default();
    for (name, value) in after {
        match before.get(name) {
            None => summary.added.push(name.clone()),
            Some(old) if old != value => summary.changed.push(name.clone()),
            Some(_) => {}
        }
    }
    summary.removed = before.keys().filter(|k| !after.contains_key(*k)).cloned().collect();
    summary
}

/// `capstan secrets recipients add <stack-dir> <recipient>`: wraps the data
/// key of every secrets file under `stack_dir` to one more recipient. All
/// files or none. Returns the files that changed.
pub fn recipients_add(identity_path: &Path, stack_dir: &Path, recipient: &str) -> Result<Vec<PathBuf>> {
    let recipient = parse_recipient(recipient)?.to_string();
    let identities = Identities::load(identity_path)?;
    let mut rewrites = Vec::new();
    for (path, bytes, mut secrets) in open_all(&identities, stack_dir)? {
        if secrets.recipients().contains(&recipient) {
            continue;
        }
        let mut list = secrets.recipients().to_vec();
        list.push(recipient.clone());
        secrets.set_recipients(list)?;
        rewrites.push(Rewrite::new(path, bytes, &secrets)?);
    }
    transaction::rewrite_all(&rewrites, None)?;
    Ok(rewrites.into_iter().map(|r| r.path).collect())
}

/// `capstan secrets recipients remove <stack-dir> <recipient>`: drops a
/// recipient from every file that lists it. Those files also get a fresh data
/// key, because the removed party knows the old one. All files or none;
/// refuses to remove a file's last recipient.
pub fn recipients_remove(identity_path: &Path, stack_dir: &Path, recipient: &str) -> Result<Vec<PathBuf>> {
    let recipient = parse_recipient(recipient)?.to_string();
    let identities = Identities::load(identity_path)?;
    let mut rewrites = Vec::new();
    for (path, bytes, mut secrets) in open_all(&identities, stack_dir)? {
        if !secrets.recipients().contains(&recipient) {
            continue;
        }
        let list: Vec<String> = secrets.recipients().iter().filter(|r| **r != recipient).cloned().collect();
        if list.is_empty() {
            return Err(SecretsError::LastRecipient { file: path, recipient });
        }
        secrets.set_recipients(list)?;
        secrets.rotate_data_key();
        rewrites.push(Rewrite::new(path, bytes, &secrets)?);
    }
    transaction::rewrite_all(&rewrites, None)?;
    Ok(rewrites.into_iter().map(|r| r.path).collect())
}

/// Every secrets file under `dir`, opened. Fails on the first file that does
/// not open, before anything is written.
fn open_all(identities: &Identities, dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>, SecretFile)>> {
    let files = fsutil::find_secret_files(dir)?;
    if files.is_empty() {
        return Err(SecretsError::NoSecretFiles { dir: dir.to_path_buf() });
    }
    files
        .into_iter()
        .map(|path| {
            let bytes = fsutil::read(&path)?;
            let secrets = SecretFile::open(&path, &bytes, identities)?;
            Ok((path, bytes, secrets))
        })
        .collect()
}

/// Options for [`rotate_keys`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RotateOptions {
    /// FOR TESTS ONLY: make the rotation fail at this point, to prove that a
    /// failure half-way leaves every file readable with the old key. `None`
    /// (the default, and the only value the CLI uses) injects nothing.
    pub inject_fault: Option<FaultPoint>,
}

/// The result of a key rotation.
#[derive(Clone, Debug)]
pub struct RotateReport {
    /// The new public key (`age1...`), now a recipient of every file.
    pub new_recipient: String,
    /// Where the old identity file was copied before it was replaced.
    pub backup: PathBuf,
    /// The secrets files re-encrypted.
    pub files: Vec<PathBuf>,
}

/// `capstan secrets rotate-keys <stack-dir>`: a new key pair replaces the
/// identity's recipients in every secrets file under `stack_dir`; every file
/// gets a fresh data key; values do not change. Other recipients stay.
///
/// All or nothing, in this order:
/// 1. open every file with the old identity (any failure: nothing written);
/// 2. copy the old identity file to a backup beside it (never overwritten);
/// 3. write the identity file with the new *and* old identities, so files
///    in either state open even after a crash;
/// 4. stage every new file as an fsynced temp, then rename them all; on any
///    failure the renamed ones are restored and the identity file put back;
/// 5. write the identity file with the new identity alone.
pub fn rotate_keys(identity_path: &Path, stack_dir: &Path, options: RotateOptions) -> Result<RotateReport> {
    let old_text = fsutil::read(identity_path).map_err(|e| match e {
        SecretsError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            SecretsError::IdentityMissing { path: identity_path.to_path_buf() }
        }
        e => e,
    })?;
    let old = Identities::load(identity_path)?;
    let old_recipients = old.recipients();

    let new_key = age::x25519::Identity::generate();
    let new_recipient = new_key.to_public().to_string();

    let mut rewrites = Vec::new();
    for (path, bytes, mut secrets) in open_all(&old, stack_dir)? {
        let list: Vec<String> = secrets
            .recipients()
            .iter()
            .filter(|r| !old_recipients.contains(r))
            .cloned()
            .chain(std::iter::once(new_recipient.clone()))
            .collect();
        secrets.set_recipients(list)?;
        secrets.rotate_data_key();
        rewrites.push(Rewrite::new(path, bytes, &secrets)?);
    }

    let backup = backup_path(identity_path);
    fsutil::write_new(&backup, &old_text, crate::identity::IDENTITY_MODE)?;

    let mode = crate::identity::IDENTITY_MODE;
    let mut both = vec![new_key.clone()];
    both.extend(old.keys().iter().cloned());
    fsutil::write_atomic(identity_path, crate::identity::identity_file_text(&both).as_bytes(), mode)?;

    if let Err(e) = transaction::rewrite_all(&rewrites, options.inject_fault) {
        if matches!(e, SecretsError::RollbackFailed { .. }) {
            // Some files stay sealed to the new key: the identity file keeps
            // it beside the old one (and the backup stays), so every file
            // still opens.
            return Err(e);
        }
        // The files are back as they were; so must the identity file be.
        fsutil::write_atomic(identity_path, &old_text, mode)?;
        let _ = std::fs::remove_file(&backup);
        return Err(e);
    }

    fsutil::write_atomic(identity_path, crate::identity::identity_file_text(&[new_key]).as_bytes(), mode)?;
    Ok(RotateReport { new_recipient, backup, files: rewrites.into_iter().map(|r| r.path).collect() })
}

/// `keys.txt` → `keys.txt.old-<unix seconds>[-n]`, the first name not taken.
fn backup_path(identity_path: &Path) -> PathBuf {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let base = format!("{}.old-{secs}", identity_path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// The recipients of the identity at `identity_path` (for `keygen`-style output).
pub fn identity_recipients(identity_path: &Path) -> Result<Vec<String>> {
    Ok(Identities::load(identity_path)?.recipients())
}
