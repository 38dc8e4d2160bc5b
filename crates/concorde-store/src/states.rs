//! The `state_enum!` macro: a state-machine enum stored as text, with its spelling
//! (`as_str`) and its decoding from a row (`TryFrom<String>`, `Corrupt` for unknown text).
//! Workers, containers and volumes each have one; writing the three by hand repeated the
//! same thirty lines.

/// Declares `pub enum $name { $variant, ... }` with each variant's stored spelling.
macro_rules! state_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $what:literal {
            $($(#[$vdoc:meta])* $variant:ident = $text:literal,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The stored (and API) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::error::StoreError;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                match text.as_str() {
                    $($text => Ok($name::$variant),)*
                    _ => Err($crate::error::StoreError::Corrupt { what: $what, detail: text }),
                }
            }
        }
    };
}
pub(crate) use state_enum;
