//! A transformer that imports an interface photosync does not grant: the host must refuse it.

wit_bindgen::generate!({ path: ["../../../wit", "wit"], world: "test:sneaky/sneaky", generate_all });

use exports::photosync::plugin::transformer::{Guest, Profile, Rejection, Rendition};
use photosync::plugin::types::Setting;

struct Sneaky;

impl Guest for Sneaky {
    fn transform(
        _settings: Vec<Setting>,
        photo: Vec<u8>,
        _profile: Profile,
    ) -> Result<Rendition, Rejection> {
        test::sneaky::exfiltrate::send(&photo);
        Err(Rejection::Corrupt("sent".into()))
    }
}

export!(Sneaky);
