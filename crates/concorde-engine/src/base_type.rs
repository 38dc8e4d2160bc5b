//! The base resource types a worker provides: the image their containers use and how their
//! `check`/`in`/`out` scripts are invoked, and how a worker advertises them when it registers.

use std::path::PathBuf;

use concorde_worker::ImageSpec;

/// How the worker runs a base resource type's scripts.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptCommand {
    /// The image holds `/opt/resource/{check,in,out}` (Concourse's layout).
    ImageScripts,
    /// The scripts are `<dir>/{check,in,out}` on the worker itself (a type directory's
    /// `rootfs/opt/resource` on a runtime without images).
    Directory(PathBuf),
    /// A binary on the worker runs the scripts: `<path> <args_prefix...> <action> [dir]`
    /// (the built-in types: `concorde resource git check`, in the host root under runc).
    Binary {
        /// The executable.
        path: PathBuf,
        /// Arguments before the action.
        args_prefix: Vec<String>,
    },
}

/// A base resource type the worker provides.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseResourceType {
    /// The type's name (`git`, `time`, `registry-image`, ...).
    pub name: String,
    /// The image its containers use.
    pub image: ImageSpec,
    /// How its scripts are invoked.
    pub command: ScriptCommand,
    /// Its containers run privileged.
    pub privileged: bool,
}

impl BaseResourceType {
    /// How a worker advertises the type in its registration's `image` field: `builtin:host-root:`
    /// or `builtin:host:` then this binary's path (the built-in types), `raw://` then a rootfs
    /// holding `/opt/resource` (a type directory, with images), `dir://` then a directory of
    /// `check`/`in`/`out` scripts (a type directory on a worker without images).
    pub fn image_uri(&self) -> String {
        match (&self.image, &self.command) {
            (ImageSpec::HostRoot, ScriptCommand::Binary { path, .. }) => {
                format!("builtin:host-root:{}", path.display())
            }
            (_, ScriptCommand::Binary { path, .. }) => format!("builtin:host:{}", path.display()),
            (ImageSpec::RawPath(rootfs), _) => format!("raw://{}", rootfs.display()),
            (_, ScriptCommand::Directory(dir)) => format!("dir://{}", dir.display()),
            (_, ScriptCommand::ImageScripts) => String::new(),
        }
    }

    /// The type `name` as a worker advertised it (see [`BaseResourceType::image_uri`]); `None`
    /// for an image this version cannot run.
    pub fn from_image_uri(name: &str, uri: &str, privileged: bool) -> Option<BaseResourceType> {
        let builtin = |path: &str| ScriptCommand::Binary {
            path: PathBuf::from(path),
            args_prefix: vec!["resource".to_owned(), name.to_owned()],
        };
        let (image, command) = if let Some(path) = uri.strip_prefix("builtin:host-root:") {
            (ImageSpec::HostRoot, builtin(path))
        } else if let Some(path) = uri.strip_prefix("builtin:host:") {
            (ImageSpec::None, builtin(path))
        } else if let Some(rootfs) = uri.strip_prefix("raw://") {
            (
                ImageSpec::RawPath(rootfs.into()),
                ScriptCommand::ImageScripts,
            )
        } else if let Some(dir) = uri.strip_prefix("dir://") {
            (ImageSpec::None, ScriptCommand::Directory(dir.into()))
        } else {
            return None;
        };
        Some(BaseResourceType {
            name: name.to_owned(),
            image,
            command,
            privileged,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertised_images_read_back_as_the_same_type() {
        let types = [
            BaseResourceType {
                name: "git".to_owned(),
                image: ImageSpec::HostRoot,
                command: ScriptCommand::Binary {
                    path: "/usr/local/bin/concorde".into(),
                    args_prefix: vec!["resource".to_owned(), "git".to_owned()],
                },
                privileged: false,
            },
            BaseResourceType {
                name: "time".to_owned(),
                image: ImageSpec::None,
                command: ScriptCommand::Binary {
                    path: "/opt/concorde".into(),
                    args_prefix: vec!["resource".to_owned(), "time".to_owned()],
                },
                privileged: false,
            },
            BaseResourceType {
                name: "s3".to_owned(),
                image: ImageSpec::RawPath("/types/s3/rootfs".into()),
                command: ScriptCommand::ImageScripts,
                privileged: true,
            },
            BaseResourceType {
                name: "pool".to_owned(),
                image: ImageSpec::None,
                command: ScriptCommand::Directory("/types/pool/rootfs/opt/resource".into()),
                privileged: false,
            },
        ];
        for base in types {
            let uri = base.image_uri();
            assert_eq!(
                BaseResourceType::from_image_uri(&base.name, &uri, base.privileged),
                Some(base)
            );
        }
        assert_eq!(
            BaseResourceType::from_image_uri("git", "/usr/local/concourse/rootfs.tgz", false),
            None
        );
    }
}
