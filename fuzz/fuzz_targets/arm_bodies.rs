//! ARM's answers: an error body of any status (`arm::failure`, which every non-success goes
//! through) and a list page (`arm::pages::parse_page`, then its `nextLink` followed from ARM's
//! origin). Byte 0-1: the status (100-599); byte 2: whether armi gave up retrying; the rest: the
//! body, whose first line is also the `Location` header.
//!
//! Checked: whatever ARM says, the error is one clean line (and a hint), and a `nextLink` armi
//! would follow is on ARM's own origin and goes where armi thinks.
#![no_main]
use libfuzzer_sys::fuzz_target;

use armi::arm::{self, Origin, pages};
use armi::http::{Endpoint, Reply};

mod common;
use common::{assert_on, assert_one_error};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = 100 + u16::from_be_bytes([data[0], data[1]]) % 500;
    let body = &data[3..];
    let location = String::from_utf8_lossy(body.split(|&b| b == b'\n').next().unwrap_or_default());
    let reply = Reply {
        status,
        headers: vec![("Location".into(), location.into_owned())],
        body: body.to_vec(),
        gave_up: (data[2] & 1 == 1).then(|| "gave up after 4 tries".to_string()),
    };
    assert_one_error(&arm::failure("listing resource groups", &reply));

    match pages::parse_page(body, 200, "listing resource groups") {
        Ok(page) => {
            let origin = Origin::of(&Endpoint::parse("https://management.azure.com").unwrap());
            if let Some(link) = page.next_link {
                match origin.follow(&link, "nextLink") {
                    Ok(url) => assert_on(&url, true, "management.azure.com", 443, false),
                    Err(e) => assert_one_error(&e),
                }
            }
        }
        Err(e) => assert_one_error(&e),
    }
});
