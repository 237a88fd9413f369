"""netledger-cni: a CNI plugin (spec 1.0.0/1.1.0) attaching containers to netledger networks."""
