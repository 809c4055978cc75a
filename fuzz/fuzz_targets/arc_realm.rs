//! The Arc agent's `WWW-Authenticate: Basic realm=<key file>` challenge, then the check that the
//! realm names a key file armi may read (`key_path`, before anything is opened).
//!
//! Checked: a realm is taken from the header as written; a key path armi accepts is exactly one
//! `.key` file directly in the agent's key directory, whatever the header says; refusals are
//! one line.
#![no_main]
use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;

use armi::sources::arc::{key_path, realm};

mod common;
use common::assert_one_line;

const KEY_DIR: &str = "/var/opt/azcmagent/tokens";

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let realm = match realm(&header) {
        Ok(realm) => realm,
        Err(e) => return assert_one_line(&e),
    };
    assert!(
        !realm.is_empty() && header.contains(realm.as_str()),
        "{realm:?}"
    );
    match key_path(&realm, Path::new(KEY_DIR)) {
        Ok(path) => {
            let components: Vec<Component> = path.components().collect();
            let expected = [
                Component::RootDir,
                Component::Normal("var".as_ref()),
                Component::Normal("opt".as_ref()),
                Component::Normal("azcmagent".as_ref()),
                Component::Normal("tokens".as_ref()),
            ];
            assert_eq!(components.len(), 6, "{realm:?}");
            assert_eq!(components[..5], expected, "{realm:?}");
            let Component::Normal(name) = components[5] else {
                panic!("{realm:?}");
            };
            let name = name.to_str().unwrap();
            assert!(name.ends_with(".key") && name.len() > 4, "{realm:?}");
        }
        Err(e) => assert_one_line(&e),
    }
});
