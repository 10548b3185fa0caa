//! The hello sentinels publish on `__sentinel__:hello` every 2 s through each node they
//! watch: `ip,port,runid,current_epoch,master_name,master_ip,master_port,config_epoch`
//! (stock's format). Sentinels learn their peers and newer configurations from it;
//! a leader learns from it which leader each sentinel names (the lease).

/// One parsed hello; borrowed from the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello<'a> {
    /// The announcing sentinel's address.
    pub ip: &'a str,
    /// Its port.
    pub port: u16,
    /// Its run id (40 hex characters from stock and ours).
    pub run_id: &'a str,
    /// Its current epoch.
    pub current_epoch: u64,
    /// The group the hello is about.
    pub master_name: &'a str,
    /// The leader the sentinel names for that group.
    pub master_ip: &'a str,
    /// Its port.
    pub master_port: u16,
    /// The configuration epoch of that leader.
    pub config_epoch: u64,
}

impl<'a> Hello<'a> {
    /// Parses a payload; None unless it has stock's eight fields with numeric ports and
    /// epochs.
    pub fn parse(payload: &'a str) -> Option<Hello<'a>> {
        let f: Vec<&str> = payload.split(',').collect();
        let [
            ip,
            port,
            run_id,
            current_epoch,
            master_name,
            master_ip,
            master_port,
            config_epoch,
        ] = f[..]
        else {
            return None;
        };
        Some(Hello {
            ip,
            port: port.parse().ok()?,
            run_id,
            current_epoch: current_epoch.parse().ok()?,
            master_name,
            master_ip,
            master_port: master_port.parse().ok()?,
            config_epoch: config_epoch.parse().ok()?,
        })
    }
}

/// The payload, in the order `parse` reads it.
impl std::fmt::Display for Hello<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{},{},{},{},{},{},{},{}",
            self.ip,
            self.port,
            self.run_id,
            self.current_epoch,
            self.master_name,
            self.master_ip,
            self.master_port,
            self.config_epoch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_hellos_parse_and_others_do_not() {
        let h = Hello::parse(
            "127.0.0.1,26379,0123456789abcdef0123456789abcdef01234567,3,mymaster,127.0.0.1,6380,2",
        )
        .unwrap();
        assert_eq!(
            (h.ip, h.port, h.current_epoch, h.master_name),
            ("127.0.0.1", 26379, 3, "mymaster")
        );
        assert_eq!(
            (h.master_ip, h.master_port, h.config_epoch),
            ("127.0.0.1", 6380, 2)
        );
        let text =
            "127.0.0.1,26379,0123456789abcdef0123456789abcdef01234567,3,mymaster,127.0.0.1,6380,2";
        assert_eq!(Hello::parse(text).unwrap().to_string(), text);
        assert_eq!(Hello::parse("127.0.0.1,26379,x"), None);
        assert_eq!(Hello::parse("a,b,c,d,e,f,g,h"), None);
        assert_eq!(Hello::parse("a,1,c,1,e,f,1,1,extra"), None);
    }
}
