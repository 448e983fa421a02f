namespace ipfs_accel {}
