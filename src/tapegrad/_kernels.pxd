# nogil pointer kernels (fused float32/float64) behind thin checked cpdef wrappers.

ctypedef fused floating:
    float
    double

# operation codes of the elementwise kernels (FAST_* in Python; _core's in-place variable
# update names them directly)
cdef enum:
    K_ADD = 0
    K_SUB = 1
    K_MUL = 2
    K_DIV = 3
    K_MAX = 4
    K_MIN = 5

cpdef object binary_same_shape(int code, object a, object b)
cpdef object binary_scalar(int code, object a, double s, bint scalar_first)
cpdef object binary_rows(int code, object a, object b)
cpdef bint binary_update(int code, object a, object b) except -1
cpdef object square(object x)
cpdef object relu(object x)
cpdef object relu_grad(object g, object y)
cpdef object sum_rows(object x, Py_ssize_t rows)
cpdef object softmax_xent(object logits, object labels, object g=*)
cpdef object im2col(object x, int kh, int kw, int sh, int sw, int dh, int dw,
                    int pad_top, int pad_left, int oh, int ow)
cpdef object col2im(object cols, tuple x_shape, int kh, int kw, int sh, int sw, int dh, int dw,
                    int pad_top, int pad_left, int oh, int ow, object out=*)
cpdef object max_pool(object x, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                      int oh, int ow)
cpdef object max_pool_scatter(object x, object g, int kh, int kw, int sh, int sw,
                              int pad_top, int pad_left)
cpdef object max_pool_select(object x, object g, int kh, int kw, int sh, int sw,
                             int pad_top, int pad_left, int oh, int ow)
cpdef object avg_pool(object x, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                      int oh, int ow)
cpdef object avg_pool_grad(object g, tuple x_shape, int kh, int kw, int sh, int sw,
                           int pad_top, int pad_left)
cpdef bint adam_update(object w, object m, object v, object g, double lr_t, double b1,
                       double b2, double eps) except -1
cpdef bint sgd_update(object w, object g, double lr) except -1
cpdef bint all_finite(object arr) except -1
cpdef object ufunc_map(object ufunc, tuple arrays, object out=*)
cpdef object sum_all(object x)
cpdef object gemm(object a, object b, bint verify=*)
cpdef object conv2d(object x, object w2, int kh, int kw, int sh, int sw, int dh, int dw,
                    int pad_top, int pad_left, int oh, int ow)
cpdef object conv2d_input_grad(object dy, object w2, tuple x_shape, int kh, int kw, int sh,
                               int sw, int dh, int dw, int pad_top, int pad_left, int oh,
                               int ow)
cpdef object conv2d_filter_grad(object x, object dy, int kh, int kw, int sh, int sw, int dh,
                                int dw, int pad_top, int pad_left, int oh, int ow)
cpdef object softmax_last(object x)
cpdef object softmax_last_grad(object y, object g)
cpdef object sum_last(object x)
