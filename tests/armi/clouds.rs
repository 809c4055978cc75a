//! Clouds: azEnvironment from IMDS (upper case) picks ARM's audience; --cloud overrides it.

use crate::common::*;

fn in_cloud(az_environment: &str, arm_cloud: &str) -> Scenario {
    Scenario {
        az_environment: az_environment.into(),
        arm_cloud: arm_cloud.into(),
        ..Scenario::default()
    }
}

#[test]
fn a_us_government_vm_asks_for_the_usgov_arm_audience() {
    let emu = Emulator::start(in_cloud("AZUREUSGOVERNMENTCLOUD", "AzureUSGovernmentCloud"));
    run(&emu, &["group"]).expect_code(0);
    let resource = token_requests(&emu)[0].query("resource");
    assert_eq!(
        resource.as_deref(),
        Some("https://management.usgovcloudapi.net/")
    );
}

#[test]
fn a_china_vm_asks_for_the_china_arm_audience() {
    let emu = Emulator::start(in_cloud("AzureChinaCloud", "AzureChinaCloud"));
    run(&emu, &["group"]).expect_code(0);
    let resource = token_requests(&emu)[0].query("resource");
    assert_eq!(
        resource.as_deref(),
        Some("https://management.chinacloudapi.cn/")
    );
}

#[test]
fn an_empty_az_environment_means_the_public_cloud() {
    let emu = Emulator::start(in_cloud("", "AzurePublicCloud"));
    run(&emu, &["group"]).expect_code(0);
}

#[test]
fn the_cloud_flag_overrides_imds() {
    let emu = Emulator::start(in_cloud("AZUREPUBLICCLOUD", "AzureUSGovernmentCloud"));
    run(&emu, &["group", "--cloud", "usgov"]).expect_code(0);
    let resource = token_requests(&emu)[0].query("resource");
    assert_eq!(
        resource.as_deref(),
        Some("https://management.usgovcloudapi.net/")
    );
}

#[test]
fn armi_cloud_in_the_environment_overrides_imds() {
    let emu = Emulator::start(in_cloud("AZUREPUBLICCLOUD", "AzureChinaCloud"));
    run_with(&emu, &["group"], &[("ARMI_CLOUD", "AzureChinaCloud")]).expect_code(0);
}

#[test]
fn a_token_for_another_clouds_audience_is_exit_5_pointing_at_cloud() {
    let emu = Emulator::start(in_cloud("AZUREPUBLICCLOUD", "AzureUSGovernmentCloud"));
    run(&emu, &["group"])
        .expect_code(5)
        .expect_stderr("InvalidAuthenticationTokenAudience")
        .expect_stderr("--cloud");
}

#[test]
fn an_unknown_az_environment_is_exit_1_naming_the_flags() {
    let emu = Emulator::start(in_cloud("AzureStackCloud", "AzurePublicCloud"));
    run(&emu, &["group"])
        .expect_code(1)
        .expect_stderr("AzureStackCloud")
        .expect_stderr("--cloud");
    assert!(token_requests(&emu).is_empty());
}
