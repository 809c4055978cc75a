//! A scale set's worth of VMs behind one emulator: each VM has an IMDS of its own (its own
//! limits, its own system identity, its own instance metadata) on a loopback address of its
//! own (127.0.1.1, 127.0.1.2, ... 127.0.2.1, ...: all of 127.0.0.0/8 is on `lo` on Linux), so
//! a connection's local address says which VM it came from; ARM is one for all of them.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

use crate::ids::stable_guid;
use crate::scenario::{Grant, Scenario, UserIdentity};

/// How many VMs the address plan holds: 127.0.1.1 up to 127.0.255.254.
pub const MAX_VMS: usize = 255 * 254;

/// Connections a listener lets wait to be accepted: a thousand VMs connect in the same
/// millisecond, and the usual 128 would make the rest retry their SYN a second later.
const BACKLOG: libc::c_int = 4096;

/// The VMs of a storm and the identity they use.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub vms: usize,
    pub identity: FleetIdentity,
}

/// Which identity the VMs of a fleet read ARM with.
#[derive(Clone, Debug)]
pub enum FleetIdentity {
    /// One user-assigned identity attached to every VM, Reader on the VMs' resource group:
    /// one principal, so one ARM bucket for the whole fleet.
    Shared(UserIdentity),
    /// Each VM its own system-assigned identity, each Reader on the resource group: a
    /// principal, and a bucket, per VM; only the subscription's global bucket is shared.
    System,
}

impl Fleet {
    /// `vms` VMs sharing the user-assigned identity [`Fleet::shared_identity`].
    pub fn shared(vms: usize) -> Self {
        Fleet {
            vms,
            identity: FleetIdentity::Shared(Fleet::shared_identity()),
        }
    }

    /// `vms` VMs each reading with its own system-assigned identity.
    pub fn system(vms: usize) -> Self {
        Fleet {
            vms,
            identity: FleetIdentity::System,
        }
    }

    /// `id-armi-fleet`, with stable ids.
    pub fn shared_identity() -> UserIdentity {
        UserIdentity::new(
            "id-armi-fleet",
            &stable_guid("fleet-appid"),
            &stable_guid("fleet-oid"),
        )
    }

    /// The loopback address of VM `vm` (from 0): 127.0.1.1 for the first.
    pub fn address(vm: usize) -> Ipv4Addr {
        let vm = vm % MAX_VMS;
        Ipv4Addr::new(127, 0, (1 + vm / 254) as u8, (1 + vm % 254) as u8)
    }

    /// `<base>-00042`: the scale set's instance name of VM `vm`.
    pub fn vm_name(base: &str, vm: usize) -> String {
        format!("{base}-{vm:05}")
    }

    /// The world as VM `vm` sees it through its IMDS: the scenario with that VM's name (and
    /// so its own system identity) and the fleet's identity attached. Role assignments are
    /// ARM's business, so the VM's copy has none.
    pub fn vm_scenarios(&self, base: &Scenario) -> Vec<Scenario> {
        let mut template = Scenario {
            grants: Vec::new(),
            writers: Vec::new(),
            faults: Vec::new(),
            fleet: None,
            ..base.clone()
        };
        if let FleetIdentity::Shared(identity) = &self.identity {
            template.user_identities = vec![identity.clone()];
        }
        (0..self.vms)
            .map(|vm| Scenario {
                vm_name: Fleet::vm_name(&base.vm_name, vm),
                ..template.clone()
            })
            .collect()
    }

    /// The Reader grants on the resource group that let every VM of the fleet read it.
    pub fn grants(&self, base: &Scenario, vms: &[Scenario]) -> Vec<Grant> {
        let scope = base.group_scope(&base.resource_group);
        match &self.identity {
            FleetIdentity::Shared(identity) => vec![Grant::new(&identity.object_id, &scope)],
            FleetIdentity::System => vms
                .iter()
                .map(|vm| Grant::new(&vm.system_object_id(), &scope))
                .collect(),
        }
    }

    /// One listener per VM, each on its own address, with a deep accept queue.
    pub fn bind(&self) -> io::Result<Vec<TcpListener>> {
        (0..self.vms)
            .map(|vm| bind_deep(SocketAddr::from((Fleet::address(vm), 0))))
            .collect()
    }
}

/// A listener on `addr` whose accept queue holds a storm's connections.
pub fn bind_deep(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    deepen_backlog(&listener)?;
    Ok(listener)
}

/// Lets `BACKLOG` connections wait on a listening socket (Linux caps it at somaxconn).
pub fn deepen_backlog(listener: &TcpListener) -> io::Result<()> {
    // SAFETY: listen(2) on a descriptor `listener` owns and keeps open; calling it again on a
    // listening socket only changes the queue's length.
    let done = unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vms_get_consecutive_loopback_addresses_skipping_0_and_255() {
        assert_eq!(Fleet::address(0), Ipv4Addr::new(127, 0, 1, 1));
        assert_eq!(Fleet::address(253), Ipv4Addr::new(127, 0, 1, 254));
        assert_eq!(Fleet::address(254), Ipv4Addr::new(127, 0, 2, 1));
        assert_eq!(Fleet::address(999), Ipv4Addr::new(127, 0, 4, 238));
        assert!(Fleet::address(MAX_VMS - 1).is_loopback());
    }

    #[test]
    fn system_vms_have_identities_and_grants_of_their_own() {
        let base = Scenario::default();
        let fleet = Fleet::system(3);
        let vms = fleet.vm_scenarios(&base);
        let oids: Vec<String> = vms.iter().map(Scenario::system_object_id).collect();
        assert_eq!(oids.len(), 3);
        assert!(oids[0] != oids[1] && oids[1] != oids[2]);
        let grants = fleet.grants(&base, &vms);
        assert_eq!(grants.len(), 3);
        assert!(grants[2].covers(&oids[2], &base.group_scope(&base.resource_group)));
    }

    #[test]
    fn shared_vms_carry_one_user_identity_with_one_grant() {
        let base = Scenario::default();
        let fleet = Fleet::shared(2);
        let vms = fleet.vm_scenarios(&base);
        let shared = Fleet::shared_identity();
        assert!(vms.iter().all(|vm| vm.user_identities.len() == 1
            && vm.user_identities[0].client_id == shared.client_id));
        assert_eq!(fleet.grants(&base, &vms).len(), 1);
    }
}
