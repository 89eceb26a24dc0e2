//! OCI image layouts built from a directory, for `ctr images import` (no registry, no
//! network): one uncompressed layer, an image config whose `rootfs.diff_ids` is that layer's
//! digest, a manifest, and an `index.json` naming the image through
//! `io.containerd.image.name`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_TYPE_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// What the image runs: its command and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Full reference, e.g. `localhost/sctest/busybox:1`.
    pub name: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
}

/// A content descriptor: what `index.json` and the manifest point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: &'static str,
    /// `sha256:<64 hex>`.
    pub digest: String,
    pub size: u64,
}

impl Descriptor {
    pub fn of(media_type: &'static str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type,
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
        }
    }

    fn to_json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }

    /// The blob's path inside the layout: `blobs/sha256/<hex>`.
    pub fn blob_path(&self) -> String {
        format!("blobs/{}", self.digest.replacen(':', "/", 1))
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The OCI architecture name of the machine the tests run on.
pub fn oci_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The image config: platform, command, environment, and the single layer's diff ID.
pub fn config_json(spec: &ImageSpec, layer_diff_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": oci_architecture(),
        "os": "linux",
        "config": {"Cmd": spec.cmd, "Env": spec.env},
        "rootfs": {"type": "layers", "diff_ids": [layer_diff_id]},
    }))
    .expect("a JSON value serializes")
}

pub fn manifest_json(config: &Descriptor, layer: &Descriptor) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": config.to_json(),
        "layers": [layer.to_json()],
    }))
    .expect("a JSON value serializes")
}

/// `index.json`: the manifest, its platform, and the name containerd gives the image.
pub fn index_json(manifest: &Descriptor, image_name: &str) -> Vec<u8> {
    let mut descriptor = manifest.to_json();
    descriptor["annotations"] = json!({ "io.containerd.image.name": image_name });
    descriptor["platform"] = json!({"architecture": oci_architecture(), "os": "linux"});
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": [descriptor],
    }))
    .expect("a JSON value serializes")
}

pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Writes through to `inner` while hashing and counting what passes.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `rootfs` as an uncompressed tar at `out`, skipping what an image layer must not
/// carry (device nodes, sockets: the runtime provides /dev); returns its descriptor.
pub fn write_layer(rootfs: &Path, out: &Path) -> io::Result<Descriptor> {
    let file = BufWriter::new(File::create(out)?);
    let mut builder = tar::Builder::new(HashingWriter {
        inner: file,
        hasher: Sha256::new(),
        size: 0,
    });
    builder.follow_symlinks(false);
    // containerd's unpacker rejects GNU sparse entries (type 'S').
    builder.sparse(false);
    append_tree(&mut builder, rootfs, Path::new(""))?;
    let mut writer = builder.into_inner()?;
    writer.flush()?;
    Ok(Descriptor {
        media_type: MEDIA_TYPE_LAYER,
        digest: format!("sha256:{}", hex::encode(writer.hasher.finalize())),
        size: writer.size,
    })
}

fn append_tree<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    relative: &Path,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(relative))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = relative.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            builder.append_path_with_name(entry.path(), &name)?;
            append_tree(builder, root, &name)?;
        } else if kind.is_file() || kind.is_symlink() {
            builder.append_path_with_name(entry.path(), &name)?;
        }
    }
    Ok(())
}

/// Writes an OCI layout tar of `rootfs` at `out` (the layer is staged next to it and
/// removed); returns the manifest's descriptor.
pub fn write_layout(rootfs: &Path, spec: &ImageSpec, out: &Path) -> io::Result<Descriptor> {
    let layer_path = PathBuf::from(format!("{}.layer", out.display()));
    let layer = write_layer(rootfs, &layer_path);
    let result = layer.and_then(|layer| write_layout_around(&layer_path, &layer, spec, out));
    let _ = std::fs::remove_file(&layer_path);
    result
}

fn write_layout_around(
    layer_path: &Path,
    layer: &Descriptor,
    spec: &ImageSpec,
    out: &Path,
) -> io::Result<Descriptor> {
    let config_bytes = config_json(spec, &layer.digest);
    let config = Descriptor::of(MEDIA_TYPE_CONFIG, &config_bytes);
    let manifest_bytes = manifest_json(&config, layer);
    let manifest = Descriptor::of(MEDIA_TYPE_MANIFEST, &manifest_bytes);
    let mut builder = tar::Builder::new(BufWriter::new(File::create(out)?));
    append_bytes(&mut builder, "oci-layout", OCI_LAYOUT)?;
    append_bytes(
        &mut builder,
        "index.json",
        &index_json(&manifest, &spec.name),
    )?;
    append_bytes(&mut builder, &config.blob_path(), &config_bytes)?;
    append_bytes(&mut builder, &manifest.blob_path(), &manifest_bytes)?;
    let mut header = blob_header(layer.size);
    let layer_file = File::open(layer_path)?;
    builder.append_data(&mut header, layer.blob_path(), layer_file.take(layer.size))?;
    builder.into_inner()?.flush()?;
    Ok(manifest)
}

fn blob_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

fn append_bytes<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    bytes: &[u8],
) -> io::Result<()> {
    let mut header = blob_header(bytes.len() as u64);
    builder.append_data(&mut header, path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ImageSpec {
        ImageSpec {
            name: "localhost/sctest/busybox:1".into(),
            cmd: vec!["/bin/sh".into()],
            env: vec!["PATH=/bin".into()],
        }
    }

    #[test]
    fn digest_is_sha256_of_the_bytes() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_digest(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn blob_path_uses_the_algorithm_as_directory() {
        let d = Descriptor::of(MEDIA_TYPE_CONFIG, b"abc");
        assert_eq!(
            d.blob_path(),
            "blobs/sha256/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.size, 3);
    }

    #[test]
    fn config_names_the_layer_diff_id_and_command() {
        let v: Value = serde_json::from_slice(&config_json(&spec(), "sha256:aa")).unwrap();
        assert_eq!(v["rootfs"]["type"], "layers");
        assert_eq!(v["rootfs"]["diff_ids"], json!(["sha256:aa"]));
        assert_eq!(v["config"]["Cmd"], json!(["/bin/sh"]));
        assert_eq!(v["config"]["Env"], json!(["PATH=/bin"]));
        assert_eq!(v["os"], "linux");
        assert_eq!(v["architecture"], oci_architecture());
    }

    #[test]
    fn manifest_points_at_config_and_layer() {
        let config = Descriptor::of(MEDIA_TYPE_CONFIG, b"{}");
        let layer = Descriptor::of(MEDIA_TYPE_LAYER, b"layer");
        let v: Value = serde_json::from_slice(&manifest_json(&config, &layer)).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["config"]["digest"], config.digest.as_str());
        assert_eq!(v["config"]["mediaType"], MEDIA_TYPE_CONFIG);
        assert_eq!(v["layers"][0]["digest"], layer.digest.as_str());
        assert_eq!(v["layers"][0]["size"], 5);
        assert_eq!(v["layers"][0]["mediaType"], MEDIA_TYPE_LAYER);
    }

    #[test]
    fn index_names_the_image_for_containerd() {
        let manifest = Descriptor::of(MEDIA_TYPE_MANIFEST, b"m");
        let v: Value = serde_json::from_slice(&index_json(&manifest, "localhost/x:1")).unwrap();
        let m = &v["manifests"][0];
        assert_eq!(
            m["annotations"]["io.containerd.image.name"],
            "localhost/x:1"
        );
        assert_eq!(m["digest"], manifest.digest.as_str());
        assert_eq!(m["mediaType"], MEDIA_TYPE_MANIFEST);
        assert_eq!(m["platform"]["os"], "linux");
    }

    #[test]
    fn layout_tar_holds_consistent_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/hello"), b"hi").unwrap();
        std::os::unix::fs::symlink("hello", root.join("bin/link")).unwrap();
        let out = dir.path().join("image.tar");
        let manifest = write_layout(&root, &spec(), &out).unwrap();

        let mut files = std::collections::HashMap::new();
        let mut archive = tar::Archive::new(File::open(&out).unwrap());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            files.insert(path, bytes);
        }
        assert_eq!(files["oci-layout"], OCI_LAYOUT);
        for (path, bytes) in &files {
            if let Some(hex) = path.strip_prefix("blobs/sha256/") {
                assert_eq!(sha256_digest(bytes), format!("sha256:{hex}"), "{path}");
            }
        }
        let manifest_bytes = &files[&manifest.blob_path()];
        let m: Value = serde_json::from_slice(manifest_bytes).unwrap();
        let layer_digest = m["layers"][0]["digest"].as_str().unwrap();
        let config_path = format!(
            "blobs/{}",
            m["config"]["digest"]
                .as_str()
                .unwrap()
                .replacen(':', "/", 1)
        );
        let config: Value = serde_json::from_slice(&files[&config_path]).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], layer_digest);

        let layer = &files[&format!("blobs/{}", layer_digest.replacen(':', "/", 1))];
        let mut names = Vec::new();
        for entry in tar::Archive::new(&layer[..]).entries().unwrap() {
            names.push(
                entry
                    .unwrap()
                    .path()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        assert_eq!(names, ["bin", "bin/hello", "bin/link"]);
        assert!(
            !dir.path().join("image.tar.layer").exists(),
            "staged layer removed"
        );
    }
}
