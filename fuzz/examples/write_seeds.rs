//! Writes the seed inputs under fuzz/seeds/: a few real descriptors in binary (for `sd_parse_check`), the
//! SDDL they come from (for `sddl_parse`) and GPO security templates (for `gpt_inf`). Run from the repository root:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example write_seeds
//! ```

use std::fs;
use std::path::Path;

use writeback_exporter::ad::security::{
    flags, guids, new_object_aces, parse_sddl, sd_to_bytes, SecurityDescriptor, Sid,
};

/// Samba's `user` defaultSecurityDescriptor (24 ACEs), as in the schema.
const USER_DEFAULT_SD: &str = "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPLCLORC;;;PS)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a54-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a56-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B2-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B3-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RP;037088f8-0ae1-11d2-b422-00a0c968f939;;RS)(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;;RS)(OA;;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;;RS)(A;;RC;;;AU)(OA;;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;;AU)(OA;;RP;77B5B886-944A-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;E45795B3-9455-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;e48d0154-bcf8-11d1-8702-00c04fb96050;;AU)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OA;;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;;RS)(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)(OA;;WPRP;6db69a1c-9422-11d1-aebd-0000f80367c1;;S-1-5-32-561)(OA;;WPRP;5805bc62-bdc9-4428-a5e2-856a0f4c185e;;S-1-5-32-561)";

/// The domain root of benches/access_check.rs: the usual Windows inheritable ACEs and the writeback grant.
const DOMAIN_ROOT_DACL: &str = "D:AI\
(OA;CIIO;RP;4c164200-20c0-11d0-a768-00aa006e0529;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;4c164200-20c0-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;037088f8-0ae1-11d2-b422-00a0c968f939;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;b7c69e6d-2cc7-11d2-854e-00a0c983f608;bf967aba-0de6-11d0-a285-00aa003049e2;ED)\
(OA;CIIO;WP;ea1b7b93-5e48-46d5-bc6c-4df4fda78a35;bf967a86-0de6-11d0-a285-00aa003049e2;PS)\
(OA;CIIO;SW;9b026da6-0d3c-465c-8bee-5199d7165cba;bf967a86-0de6-11d0-a285-00aa003049e2;PS)\
(OA;CI;RPWP;5b47d60f-6090-40b2-9f37-2a4de88f3063;;KA)\
(OA;CI;RPWP;5b47d60f-6090-40b2-9f37-2a4de88f3063;;EK)\
(OA;CIIO;LCRPLORC;;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;LCRPLORC;;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)\
(A;CI;LC;;;RU)\
(A;CI;CCLCSWRPWPLOCRSDRCWDWO;;;BA)\
(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)\
(OA;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1105)\
(OA;CIIO;WP;28630ebf-41d5-11d1-a9c1-0000f80367c1;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1105)\
(OA;CIIO;WP;bf967a0a-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1105)";

/// "User cannot change password" plus generic, audit and CREATOR OWNER ACEs, with owner and group.
const DENY_AND_GENERIC: &str = "O:DAG:DUD:PAI(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)\
(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)(A;;GA;;;S-1-5-21-1-2-3-1200)(A;CIIOID;GA;;;CO)\
(D;;GW;;;S-1-5-21-1-2-3-1105)(AU;SAFA;WPCR;;;WD)(OL;;DT;;;WD)(ML;;NW;;;LW)\
(OA;CIID;CR;00299570-246d-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1105)\
(OA;NP;WP;4c164200-20c0-11d0-a768-00aa006e0529;;S-1-0x123456789ABC-1)(A;;0x1000000;;;BA)";

/// A Default Domain Policy's GptTmpl.inf as Windows writes it (CRLF; encoded UTF-16LE with BOM below).
const GPT_DEFAULT_DOMAIN_POLICY: &str = "[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordAge = 1\r\n\
MaximumPasswordAge = 42\r\nMinimumPasswordLength = 7\r\nPasswordComplexity = 1\r\nPasswordHistorySize = 24\r\n\
LockoutBadCount = 0\r\nRequireLogonToChangePassword = 0\r\nForceLogoffWhenHourExpire = 0\r\nClearTextPassword = 0\r\n\
LSAAnonymousNameLookup = 0\r\n[Kerberos Policy]\r\nMaxTicketAge = 10\r\nMaxRenewAge = 7\r\nMaxServiceAge = 600\r\n\
MaxClockSkew = 5\r\nTicketValidateClient = 1\r\n[Version]\r\nsignature=\"$CHICAGO$\"\r\nRevision=1\r\n\
[Registry Values]\r\nMACHINE\\System\\CurrentControlSet\\Control\\Lsa\\NoLMHash=4,1\r\n";

/// A domain controllers GPO with RestrictRemoteSAM, privilege rights, group membership and file security lines.
const GPT_RESTRICT_REMOTE_SAM: &str = "[Unicode]\r\nUnicode=yes\r\n[Registry Values]\r\n\
MACHINE\\System\\CurrentControlSet\\Control\\Lsa\\RestrictRemoteSAM=1,\"O:BAG:BAD:(A;;RC;;;BA)(A;;RC;;;S-1-5-21-1-2-3-1200)\"\r\n\
[Privilege Rights]\r\nSeNetworkLogonRight = *S-1-1-0,*S-1-5-32-544\r\n[Group Membership]\r\n*S-1-5-32-544__Memberof =\r\n\
[File Security]\r\n\"%SystemRoot%\\System32\",2,\"D:PAR(A;OICI;FA;;;BA)\"\r\n; comment\r\n[Version]\r\nsignature=\"$CHICAGO$\"\r\nRevision=1\r\n";

fn main() {
    let domain: Sid = "S-1-5-21-1-2-3".parse().expect("constant SID");
    let (da, du) = (domain.with_rid(512), domain.with_rid(513));
    let sddl = |text: &str| parse_sddl(text, Some(&domain)).expect("seed SDDL parses");

    // The benchmark's user: default SD + what it inherits from the domain root, owner and group.
    let default = sddl(USER_DEFAULT_SD).dacl.expect("has a DACL");
    let root_bytes = sddl(DOMAIN_ROOT_DACL).to_bytes().expect("encodes");
    let root = SecurityDescriptor::parse(&root_bytes).expect("parses");
    let user_aces = new_object_aces(&default, root.dacl_aces().expect("DACL"), guids::USER_CLASS).expect("inherits");
    let user = sd_to_bytes(flags::SE_DACL_AUTO_INHERITED, Some(&da), Some(&du), Some(&user_aces)).expect("encodes");
    assert_eq!(user.len(), 2204, "the benchmark's descriptor");

    let mut default_sd = sddl(USER_DEFAULT_SD);
    (default_sd.owner, default_sd.group) = (Some(da.clone()), Some(du.clone()));

    // Hand-built: a SACL before the DACL, and ACE types of other layouts (compound, callback with
    // application data) that the check must skip by their size.
    let mut odd = vec![1, 0];
    odd.extend_from_slice(&(flags::SE_SELF_RELATIVE | flags::SE_DACL_PRESENT | flags::SE_SACL_PRESENT).to_le_bytes());
    let sacl: &[u8] = &[4, 0, 28, 0, 1, 0, 0, 0, 2, 0xC0, 20, 0, 0x20, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    let dacl_aces: &[&[u8]] = &[
        &[0x04, 0, 8, 0, 1, 2, 3, 4],
        &[0x09, 0, 24, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0, b'a', b'r', b't', b'x'],
        &[0x00, 0, 20, 0, 0xFF, 1, 0x0F, 0, 1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0],
    ];
    let dacl_len = 8 + dacl_aces.iter().map(|a| a.len()).sum::<usize>();
    let (sacl_at, dacl_at) = (20u32, 20 + sacl.len() as u32);
    odd.extend_from_slice(&[0; 8]);
    odd.extend_from_slice(&sacl_at.to_le_bytes());
    odd.extend_from_slice(&dacl_at.to_le_bytes());
    odd.extend_from_slice(sacl);
    odd.extend_from_slice(&[4, 0, dacl_len as u8, 0, dacl_aces.len() as u8, 0, 0, 0]);
    for ace in dacl_aces {
        odd.extend_from_slice(ace);
    }
    assert!(SecurityDescriptor::parse(&odd).expect("parses").dacl_aces().expect("DACL").all(|a| a.is_ok()));

    let binary: [(&str, Vec<u8>); 6] = [
        ("user_2204_bytes", user),
        ("user_default_sd", default_sd.to_bytes().expect("encodes")),
        ("domain_root", root_bytes),
        ("deny_generic_audit", sddl(DENY_AND_GENERIC).to_bytes().expect("encodes")),
        ("null_dacl", sd_to_bytes(flags::SE_DACL_PRESENT, Some(&da), None, None).expect("encodes")),
        ("sacl_and_other_layouts", odd),
    ];
    let text: [(&str, &str); 6] = [
        ("user_default_sd", USER_DEFAULT_SD),
        ("domain_root", DOMAIN_ROOT_DACL),
        ("deny_generic_audit", DENY_AND_GENERIC),
        (
            "sacl_and_owner",
            "O:BAG:S-1-5-21-1-2-3-513D:(A;;GA;;;SY)S:AI(AU;SAFA;WPCR;;;WD)(OU;CIIOIDSA;WP;f30e3bbe-9ff0-11d1-b603-0000f80367c1;bf967aa5-0de6-11d0-a285-00aa003049e2;WD)",
        ),
        (
            "all_codes",
            " D:PAI (A;OICINPIOIDCRSAFATP;FAFRFWFXKAKRKWKXNRNWNX;;;WD)(D;;GAGRGWGX;;;s-1-5-11)(AL;;0x100;;;WD)(A;;0400;;;RO)(A;;256;;;EK)",
        ),
        ("null_dacl", "O:S-1-0x123456789ABCD:NO_ACCESS_CONTROL"),
    ];
    let utf16 = |text: &str| {
        let mut out = vec![0xFF, 0xFE];
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        out
    };
    let gpt: [(&str, Vec<u8>); 3] = [
        ("default_domain_policy_utf16", utf16(GPT_DEFAULT_DOMAIN_POLICY)),
        ("restrict_remote_sam_utf16", utf16(GPT_RESTRICT_REMOTE_SAM)),
        ("default_domain_policy_utf8", GPT_DEFAULT_DOMAIN_POLICY.as_bytes().to_vec()),
    ];
    for (target, seeds) in [
        ("sd_parse_check", binary.iter().map(|(n, b)| (*n, b.clone())).collect::<Vec<_>>()),
        ("sddl_parse", text.iter().map(|(n, t)| (*n, t.as_bytes().to_vec())).collect()),
        ("gpt_inf", gpt.to_vec()),
    ] {
        let dir = Path::new("fuzz/seeds").join(target);
        fs::create_dir_all(&dir).expect("create seed directory");
        for (name, bytes) in seeds {
            fs::write(dir.join(name), &bytes).expect("write seed");
            println!("{}: {} bytes", dir.join(name).display(), bytes.len());
        }
    }
}
