//! Names for recorded frames, found after the run from the files the process mapped.
//!
//! A native frame is looked up in its module's file: with DWARF (the file's own, or a
//! split debug file the loader finds), every inlined call at that address becomes a frame
//! of its own, `function (file:line)`; without it, the symbol table names the function
//! when a symbol's extent covers the address; otherwise the frame stays `module+0xoffset`.
//! A file that is gone, or whose build id is no longer the one recorded (rebuilt during or
//! since the run), gives `module+0xoffset` too: an honest address rather than a wrong name.
//! Names are demangled (Rust and C++).

use std::collections::HashMap;
use std::path::Path;

use addr2line::Loader;
use benchmem_launcher::stacks::{Frame, ImageStacks, Module};
use object::{Object, ObjectSymbol, SymbolKind};

/// One module's file, opened once.
struct File {
    /// DWARF lines and inlined frames (None: the file has no usable debug info).
    loader: Option<Loader>,
    /// Defined functions by address: (start, size, name), sorted.
    symbols: Vec<(u64, u64, String)>,
}

/// Why a module's frames are shown as addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Unusable {
    Missing,
    Rebuilt,
}

/// Looks frames up, caching files and answers.
#[derive(Default)]
pub(crate) struct Symbolizer {
    files: HashMap<(Vec<u8>, Vec<u8>), Result<File, Unusable>>,
    /// Each (pid, image, module index) seen, as an index into `files`' order of opening:
    /// frames are looked up by it, not by hashing the module's path again.
    module_ids: HashMap<(u32, u32, u32), usize>,
    /// The (path, build id) of each module id.
    module_keys: Vec<(Vec<u8>, Vec<u8>)>,
    answers: HashMap<(usize, u64), Vec<String>>,
    /// (module path, why) of every module shown as addresses.
    unusable: Vec<(String, Unusable)>,
}

fn base_name(path: &[u8]) -> String {
    let b = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    if b.is_empty() {
        "[unknown]".into()
    } else {
        String::from_utf8_lossy(b).into_owned()
    }
}

fn open(m: &Module) -> Result<File, Unusable> {
    let path = Path::new(std::ffi::OsStr::new(
        std::str::from_utf8(&m.path).unwrap_or(""),
    ));
    if m.path.is_empty() {
        return Err(Unusable::Missing);
    }
    let file = std::fs::File::open(path).map_err(|_| Unusable::Missing)?;
    // SAFETY: a read-only private mapping, dropped before this returns. Its bytes may
    // change if the file is rewritten meanwhile: object checks every offset it reads and
    // the build id check refuses another build. A file truncated under the mapping would
    // fault on access, the same exposure as addr2line's loader, which maps these files.
    let data = unsafe { memmap2::Mmap::map(&file) }.map_err(|_| Unusable::Missing)?;
    let obj = object::File::parse(&*data).map_err(|_| Unusable::Missing)?;
    let id = obj.build_id().ok().flatten().unwrap_or(&[]);
    if !m.build_id.is_empty() && id != m.build_id.as_slice() {
        return Err(Unusable::Rebuilt);
    }
    let mut symbols: Vec<(u64, u64, String)> = obj
        .symbols()
        .chain(obj.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.size() > 0)
        .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
        .collect();
    symbols.sort();
    symbols.dedup_by_key(|s| s.0);
    let loader = Loader::new(path).ok();
    Ok(File { loader, symbols })
}

fn demangle(name: &str) -> String {
    addr2line::demangle_auto(name.into(), None).into_owned()
}

impl File {
    /// The frames at `address`, innermost first; empty when nothing names it.
    fn frames(&self, address: u64) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(loader) = &self.loader
            && let Ok(mut it) = loader.find_frames(address)
        {
            while let Ok(Some(f)) = it.next() {
                let Some(name) = f.function.as_ref().and_then(|n| n.demangle().ok()) else {
                    continue;
                };
                let mut text = name.into_owned();
                if let Some(loc) = &f.location
                    && let (Some(file), Some(line)) = (loc.file, loc.line)
                {
                    text.push_str(&format!(" ({}:{line})", short_path(file)));
                }
                out.push(text);
            }
        }
        if out.is_empty() {
            let i = self.symbols.partition_point(|s| s.0 <= address);
            if let Some((start, size, name)) = i.checked_sub(1).map(|i| &self.symbols[i])
                && address < start + size
            {
                out.push(demangle(name));
            }
        }
        out
    }
}

/// A source path as people read it: the file and its directory, not the build machine's
/// whole tree.
fn short_path(file: &str) -> String {
    let parts: Vec<&str> = file.rsplitn(3, '/').collect();
    match parts.len() {
        3 => format!("{}/{}", parts[1], parts[0]),
        _ => file.to_string(),
    }
}

impl Symbolizer {
    /// The frames of stack `id` of `img`, innermost first, inlined calls expanded.
    pub(crate) fn stack(&mut self, img: &ImageStacks, id: u32) -> Vec<String> {
        let Some(frames) = img.stacks.get(id as usize).filter(|f| !f.is_empty()) else {
            return vec!["[stack not recorded]".to_string()];
        };
        frames.iter().flat_map(|f| self.frame(img, f)).collect()
    }

    fn frame(&mut self, img: &ImageStacks, f: &Frame) -> Vec<String> {
        match *f {
            Frame::Python { code, line } => vec![match img.python.get(&code) {
                Some(c) => format!(
                    "{} ({}:{line})",
                    String::from_utf8_lossy(&c.name),
                    String::from_utf8_lossy(&c.file)
                ),
                None => format!("[python code {code}]:{line}"),
            }],
            Frame::Unmapped { address } => vec![format!("[unknown]+{address:#x}")],
            Frame::Native { module, address } => {
                let Some(m) = img.modules.get(module as usize) else {
                    return vec![format!("[unknown]+{address:#x}")];
                };
                let next = self.module_keys.len();
                let id = *self
                    .module_ids
                    .entry((img.pid, img.image, module))
                    .or_insert(next);
                if id == next {
                    let key = (m.path.clone(), m.build_id.clone());
                    match self.module_keys.iter().position(|k| *k == key) {
                        // The same file in another process image: one id, one set of answers.
                        Some(same) => {
                            self.module_ids.insert((img.pid, img.image, module), same);
                        }
                        None => self.module_keys.push(key),
                    }
                }
                let id = self.module_ids[&(img.pid, img.image, module)];
                if let Some(a) = self.answers.get(&(id, address)) {
                    return a.clone();
                }
                let file = self
                    .files
                    .entry(self.module_keys[id].clone())
                    .or_insert_with(|| open(m));
                let named = match file {
                    Ok(file) => file.frames(address),
                    Err(why) => {
                        let shown = String::from_utf8_lossy(&m.path).into_owned();
                        if !self.unusable.iter().any(|(p, _)| *p == shown) {
                            self.unusable.push((shown, why.clone()));
                        }
                        Vec::new()
                    }
                };
                let answer = if named.is_empty() {
                    vec![format!("{}+{address:#x}", base_name(&m.path))]
                } else {
                    named
                };
                self.answers.insert((id, address), answer.clone());
                answer
            }
        }
    }

    /// What the user should know about frames left as addresses.
    pub(crate) fn notes(&self) -> Vec<String> {
        self.unusable
            .iter()
            .map(|(path, why)| match why {
                Unusable::Missing => format!(
                    "{path}: cannot be read now, its frames are shown as module+offset"
                ),
                Unusable::Rebuilt => format!(
                    "{path}: rebuilt since it ran (its build id differs), its frames are shown as module+offset"
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_paths_keep_their_directory() {
        assert_eq!(short_path("/build/x/src/main.c"), "src/main.c");
        assert_eq!(short_path("main.c"), "main.c");
        assert_eq!(short_path("src/main.c"), "src/main.c");
    }

    #[test]
    fn a_file_rebuilt_since_the_run_gives_addresses_not_names() {
        // This test binary itself, as if recorded with another build id.
        let exe = std::env::current_exe().unwrap();
        let m = Module {
            path: exe.to_string_lossy().as_bytes().to_vec(),
            build_id: vec![1, 2, 3, 4],
            bias: 0,
            start: 0,
            end: u64::MAX,
        };
        let img = ImageStacks {
            modules: vec![m],
            stacks: vec![
                vec![],
                vec![Frame::Native {
                    module: 0,
                    address: 0x1234,
                }],
            ],
            ..ImageStacks::default()
        };
        let mut s = Symbolizer::default();
        let name = base_name(exe.to_string_lossy().as_bytes());
        assert_eq!(s.stack(&img, 1), vec![format!("{name}+0x1234")]);
        assert!(s.notes()[0].contains("rebuilt"), "{:?}", s.notes());
        assert_eq!(s.stack(&img, 7), vec!["[stack not recorded]".to_string()]);
    }
}
