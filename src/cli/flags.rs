//! Every flag armi knows, defined once: its spellings, its value, its help line, the environment
//! variable that stands in for it, and how a shell completes it. The tokeniser, the "does not
//! apply" check, `--help`, the man page and the completions are all made from these. The variables
//! armi reads by itself, for no flag, are listed here too ([`VARIABLES`]), for the man page.

/// One command-line flag.
#[derive(Debug)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    /// The value's name in help (`ID`, `NAME`), or `None` for a switch.
    pub value: Option<&'static str>,
    pub help: &'static str,
    /// The variable that stands in for the flag when it is not given.
    pub env: Option<&'static str>,
    /// May be given more than once.
    pub repeats: bool,
    /// Listed in `armi --help` (every command that calls Azure takes it); otherwise only in the
    /// help of the commands that take it.
    pub global: bool,
    /// What a shell offers for the value.
    pub completes: Completes,
}

/// What a shell offers for a flag's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completes {
    Nothing,
    File,
    Choices(&'static [&'static str]),
}

impl Flag {
    /// `-s, --subscription` or `--client-id`.
    pub fn spellings(&self) -> String {
        match self.short {
            Some(c) => format!("-{c}, --{}", self.long),
            None => format!("--{}", self.long),
        }
    }

    /// The name a message uses: `--subscription`.
    pub fn name(&self) -> String {
        format!("--{}", self.long)
    }

    pub fn is(&self, other: &Flag) -> bool {
        self.long == other.long
    }
}

const fn flag(long: &'static str, value: Option<&'static str>, help: &'static str) -> Flag {
    Flag {
        long,
        short: None,
        value,
        help,
        env: None,
        repeats: false,
        global: true,
        completes: Completes::Nothing,
    }
}

const fn own(long: &'static str, value: Option<&'static str>, help: &'static str) -> Flag {
    Flag {
        global: false,
        ..flag(long, value, help)
    }
}

pub const SUBSCRIPTION: Flag = Flag {
    short: Some('s'),
    ..flag(
        "subscription",
        Some("ID"),
        "subscription GUID (default: this VM's)",
    )
};
pub const RESOURCE_GROUP: Flag = Flag {
    short: Some('g'),
    ..flag(
        "resource-group",
        Some("NAME"),
        "resource group (default: this VM's)",
    )
};
pub const CLIENT_ID: Flag = Flag {
    env: Some("AZURE_CLIENT_ID"),
    ..flag(
        "client-id",
        Some("ID"),
        "act as the user-assigned identity with this client id",
    )
};
pub const OBJECT_ID: Flag = flag(
    "object-id",
    Some("ID"),
    "... with this object (principal) id",
);
pub const RESOURCE_ID: Flag = flag("resource-id", Some("ARMID"), "... with this resource id");
pub const CLOUD_NAMES: &[&str] = &[
    "public",
    "usgov",
    "china",
    "AzurePublicCloud",
    "AzureUSGovernmentCloud",
    "AzureChinaCloud",
];
pub const CLOUD: Flag = Flag {
    env: Some("ARMI_CLOUD"),
    completes: Completes::Choices(CLOUD_NAMES),
    ..flag(
        "cloud",
        Some("NAME"),
        "public, usgov, china (default: IMDS compute.azEnvironment, else public)",
    )
};
pub const ARM_ENDPOINT: Flag = Flag {
    env: Some("ARMI_ARM_ENDPOINT"),
    ..flag(
        "arm-endpoint",
        Some("URL"),
        "ARM base URL; http:// only for loopback hosts",
    )
};
pub const IMDS_ENDPOINT: Flag = Flag {
    env: Some("ARMI_IMDS_ENDPOINT"),
    ..flag(
        "imds-endpoint",
        Some("URL"),
        "IMDS base URL (default http://169.254.169.254)",
    )
};
pub const API_VERSION: Flag = flag("api-version", Some("V"), "ARM api-version for the call");
pub const QUERY: Flag = Flag {
    short: Some('q'),
    ..flag(
        "query",
        Some("EXPR"),
        "print part of the output: a path like properties.provisioningState, value[].name, \
         tags.\"Owner \", or a JSON Pointer like /a/b",
    )
};
pub const OUTPUT: Flag = Flag {
    short: Some('o'),
    ..flag(
        "output",
        Some("FMT"),
        "json (default), compact, tsv, none (and the command's own)",
    )
};
pub const SOURCE: Flag = Flag {
    completes: Completes::Choices(&crate::sources::Host::NAMES),
    ..flag(
        "source",
        Some("NAME"),
        "identity host: auto (default: detected from the environment), imds, arc, appservice, \
         cloudshell, servicefabric, azureml, workload",
    )
};
pub const TIMEOUT: Flag = flag(
    "timeout",
    Some("SECS"),
    "one deadline for everything, retries included (90)",
);
pub const CA_FILE: Flag = Flag {
    env: Some("SSL_CERT_FILE"),
    completes: Completes::File,
    ..flag(
        "ca-file",
        Some("PEM"),
        "trust these roots for ARM instead of the built-in ones",
    )
};
pub const WAIT_ACCESS: Flag = flag(
    "wait-access",
    Some("SECS"),
    "while a 403 means \"not yet\" (a new role still propagating) or IMDS does not know a new \
     identity yet, ask again with backoff for up to SECS (default 0: off)",
);
pub const VAULT_ENDPOINT: Flag = Flag {
    env: Some("ARMI_VAULT_ENDPOINT"),
    ..own(
        "vault-endpoint",
        Some("URL"),
        "Key Vault base URL for emulators: vaults are {vault}.HOST:PORT; http:// only for \
         loopback hosts",
    )
};
pub const BLOB_ENDPOINT: Flag = Flag {
    env: Some("ARMI_BLOB_ENDPOINT"),
    ..own(
        "blob-endpoint",
        Some("URL"),
        "Storage for emulators: an account's blob endpoint, or the HOST:PORT below which \
         accounts are ({account}.HOST:PORT); http:// only for loopback hosts",
    )
};
pub const FILE: Flag = Flag {
    completes: Completes::File,
    ..own(
        "file",
        Some("PATH"),
        "write to PATH instead of stdout, atomically (a temporary file beside it, synced, then \
         renamed; never through a symbolic link); on failure PATH is unchanged",
    )
};
pub const MODE: Flag = own(
    "mode",
    Some("OCTAL"),
    "the --file's permissions (default 0600)",
);
pub const VERBOSE: Flag = Flag {
    short: Some('v'),
    ..flag(
        "verbose",
        None,
        "trace requests and retries to stderr (no tokens)",
    )
};
pub const HELP: Flag = Flag {
    short: Some('h'),
    ..flag("help", None, "print help")
};
pub const VERSION: Flag = Flag {
    short: Some('V'),
    ..flag("version", None, "print version")
};
/// What `--generate` prints: the man page, a shell's completion script.
pub const GENERATE_NAMES: &[&str] = &["man", "complete-bash", "complete-zsh", "complete-fish"];
/// Taken by no command: like `--version`, it is answered before a command is looked up.
pub const GENERATE: Flag = Flag {
    completes: Completes::Choices(GENERATE_NAMES),
    ..flag(
        "generate",
        Some("WHAT"),
        "print the man page (man) or a shell's completions (complete-bash, complete-zsh, \
         complete-fish), made from this help",
    )
};

pub const TOP: Flag = own("top", Some("N"), "items per page, 1 to 1000 (ARM's $top)");
pub const ALL: Flag = own(
    "all",
    None,
    "follow nextLink and merge every page's value into one JSON array",
);
pub const BODY: Flag = Flag {
    completes: Completes::File,
    ..own(
        "body",
        Some("JSON|@FILE|-"),
        "the request body: JSON text, @file.json, or - for stdin; checked to be JSON before \
         anything is sent",
    )
};
pub const HEADER: Flag = Flag {
    short: Some('H'),
    repeats: true,
    ..own("header", Some("'K: V'"), "an extra header (repeatable)")
};
pub const WAIT: Flag = own(
    "wait",
    None,
    "follow a long-running operation (201/202, or 200 with Azure-AsyncOperation) to its end, \
     as Retry-After asks, within --timeout; a failed operation is exit 1 with its error",
);
pub const SKIP_MD5: Flag = own(
    "skip-md5",
    None,
    "do not check the bytes against the blob's Content-MD5 (one that another tool left stale); \
     the length and the ETag are still checked, and TLS guards the bytes on the way",
);
pub const RESOURCE: Flag = own(
    "resource",
    Some("AUD"),
    "call another Azure API with a token for AUD; the URL's host must be AUD's host or below it",
);

/// Every flag, in the order help lists them.
pub const ALL_FLAGS: &[&Flag] = &[
    &SUBSCRIPTION,
    &RESOURCE_GROUP,
    &CLIENT_ID,
    &OBJECT_ID,
    &RESOURCE_ID,
    &CLOUD,
    &ARM_ENDPOINT,
    &IMDS_ENDPOINT,
    &API_VERSION,
    &TOP,
    &ALL,
    &BODY,
    &HEADER,
    &WAIT,
    &RESOURCE,
    &QUERY,
    &OUTPUT,
    &SOURCE,
    &TIMEOUT,
    &WAIT_ACCESS,
    &VAULT_ENDPOINT,
    &BLOB_ENDPOINT,
    &FILE,
    &MODE,
    &SKIP_MD5,
    &CA_FILE,
    &VERBOSE,
    &HELP,
    &VERSION,
    &GENERATE,
];

/// The flags every command takes.
pub const EVERY_COMMAND: &[&Flag] = &[&QUERY, &OUTPUT, &TIMEOUT, &VERBOSE, &HELP, &VERSION];

/// The flags of every command that gets a token: which identity, from which host, for which cloud.
pub const IDENTITY: &[&Flag] = &[
    &CLIENT_ID,
    &OBJECT_ID,
    &RESOURCE_ID,
    &CLOUD,
    &IMDS_ENDPOINT,
    &SOURCE,
    &CA_FILE,
];

/// The flags of every command that calls ARM.
pub const ARM: &[&Flag] = &[&ARM_ENDPOINT, &API_VERSION, &WAIT_ACCESS];

/// `--file` and its `--mode`.
pub const TO_FILE: &[&Flag] = &[&FILE, &MODE];

/// `-s` and `-g`, for the commands about one subscription and one group.
pub const SCOPE: &[&Flag] = &[&SUBSCRIPTION, &RESOURCE_GROUP];

/// Variables armi reads by itself (the ones that stand in for a flag are the flags' `env`).
#[derive(Debug)]
pub struct Variable {
    /// Its spellings, in the order armi looks at them.
    pub names: &'static [&'static str],
    pub help: &'static str,
}

/// Every variable armi reads besides the flags' own, in the order the man page lists them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        names: &["https_proxy", "HTTPS_PROXY"],
        help: "the proxy for https requests to ARM, other Azure APIs (rest --resource) and Entra \
               ID (workload identity), with curl's rules; never for IMDS or another identity \
               host on this machine",
    },
    Variable {
        names: &["http_proxy", "HTTP_PROXY"],
        help: "the proxy for an http ARM endpoint on this machine, in lower case only (as curl: \
               HTTP_PROXY is not used for it); armi doctor warns when either, or all_proxy, \
               would send other tools' IMDS requests to a proxy",
    },
    Variable {
        names: &["all_proxy", "ALL_PROXY"],
        help: "the proxy when the scheme's own variable is unset",
    },
    Variable {
        names: &["no_proxy", "NO_PROXY"],
        help: "hosts reached without the proxy, comma-separated: * matches all, example.com and \
               .example.com match the domain and its subdomains, IP addresses and IPv4 CIDR \
               ranges (10.0.0.0/8) match addresses",
    },
    Variable {
        names: &["IDENTITY_ENDPOINT"],
        help: "the identity endpoint of Service Fabric (with IDENTITY_HEADER and \
               IDENTITY_SERVER_THUMBPRINT), App Service and Functions (with IDENTITY_HEADER) or \
               Azure Arc (with IMDS_ENDPOINT)",
    },
    Variable {
        names: &["IDENTITY_HEADER"],
        help: "the secret App Service and Service Fabric expect in a header",
    },
    Variable {
        names: &["IDENTITY_SERVER_THUMBPRINT"],
        help: "Service Fabric's certificate thumbprint (SHA-1 or SHA-256): the only certificate \
               trusted for its endpoint",
    },
    Variable {
        names: &["IMDS_ENDPOINT"],
        help: "set by the Azure Arc agent, with IDENTITY_ENDPOINT: the identity host is Arc's",
    },
    Variable {
        names: &["ARMI_ARC_TOKEN_DIR"],
        help: "the directory Arc's key file must be in (default /var/opt/azcmagent/tokens), for \
               relocated agents and tests",
    },
    Variable {
        names: &["MSI_ENDPOINT"],
        help: "the identity endpoint of Azure ML (with MSI_SECRET), else of Cloud Shell",
    },
    Variable {
        names: &["MSI_SECRET"],
        help: "the secret Azure ML expects in a header",
    },
    Variable {
        names: &["AZUREPS_HOST_ENVIRONMENT"],
        help: "a value starting with cloud-shell says the identity host is Cloud Shell's",
    },
    Variable {
        names: &["AZURE_FEDERATED_TOKEN_FILE"],
        help: "AKS workload identity, with AZURE_CLIENT_ID and AZURE_TENANT_ID: the federated \
               token, read afresh for each request (it rotates) and sent to Entra ID",
    },
    Variable {
        names: &["AZURE_TENANT_ID"],
        help: "workload identity: the tenant to ask Entra ID in",
    },
    Variable {
        names: &["AZURE_AUTHORITY_HOST"],
        help: "workload identity: the Entra ID authority (default: the cloud's, \
               https://login.microsoftonline.com on the public cloud)",
    },
    Variable {
        names: &["AZURE_KUBERNETES_TOKEN_PROXY"],
        help: "AKS identity binding: workload identity's token request goes to this https proxy \
               in the cluster instead of Entra ID",
    },
    Variable {
        names: &["AZURE_KUBERNETES_CA_FILE", "AZURE_KUBERNETES_CA_DATA"],
        help: "identity binding: the only CA the token proxy's certificate may chain to, as a \
               file (read again for every request, as it rotates) or as PEM text",
    },
    Variable {
        names: &["AZURE_KUBERNETES_SNI_NAME"],
        help: "identity binding: the name sent as SNI and checked on the token proxy's \
               certificate",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_unique() {
        for (i, a) in ALL_FLAGS.iter().enumerate() {
            for b in &ALL_FLAGS[i + 1..] {
                assert_ne!(a.long, b.long);
                assert!(a.short.is_none() || a.short != b.short, "{}", a.long);
            }
        }
    }

    #[test]
    fn every_flag_a_command_may_take_is_listed() {
        for f in EVERY_COMMAND.iter().chain(IDENTITY) {
            assert!(ALL_FLAGS.iter().any(|g| g.is(f)), "{}", f.long);
        }
    }
}
