// Ends one instruction set's copy of kernels_body.h and fused_body.h.
#undef RK_MAP
#undef RK_KERNEL
#undef RK_ATTR
#undef RK_FN
#undef RK_CAT
#undef RK_CAT2
#undef RK_TARGET
#undef RK_SUFFIX
