//! Ids that are easy to mix up, as types: a phone-number id is not a WABA id, a
//! wamid is not a wa_id. They cross from the HTTP surfaces into the model inside
//! commands and come back in replies; each serializes as its text.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id from its text.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

id!(
    /// A business phone number's Graph id (`110000000000001`).
    PhoneNumberId
);
id!(
    /// A WhatsApp Business Account's Graph id.
    WabaId
);
id!(
    /// A message template's Graph id.
    TemplateId
);
id!(
    /// A message id (`wamid.…`).
    Wamid
);
id!(
    /// A WhatsApp user's id: the phone number with its country code, digits only.
    WaId
);
id!(
    /// A 360dialog channel id.
    ChannelId
);
id!(
    /// A media file's Graph id (16 digits).
    MediaId
);
id!(
    /// A 360dialog partner id.
    PartnerId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_with_their_text_and_serialize_as_it() {
        let id = PhoneNumberId::from("110000000000001");
        assert_eq!(id, "110000000000001");
        assert_eq!(id.to_string(), "110000000000001");
        assert_eq!(
            serde_json::to_string(&id).expect("serializes"),
            "\"110000000000001\""
        );
        assert_eq!(format!("{id:?}"), "PhoneNumberId(\"110000000000001\")");
    }
}
