// The words every file zkfleet renders carries in a comment (myid, a bare
// number, is the exception). A managed file without them was written by
// someone else: found at adoption, or edited by hand since.
export const MANAGED_MARK = "managed by zkfleet";
