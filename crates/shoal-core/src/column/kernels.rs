//! Numeric kernels over column data.

/// Elements summed per block with independent accumulators before blocks are combined.
const BLOCK: usize = 256;
/// Independent accumulators per block: enough to keep the adder pipelines busy (4 AVX or 8
/// SSE registers).
const LANES: usize = 16;

/// The sum of `xs`, summed pairwise like NumPy's (rounding error grows as O(log n)).
pub fn sum_f64(xs: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { sum_f64_avx2(xs) };
    }
    cascade(xs, |x| x)
}

/// The sum of `xs` widened to f64, summed pairwise.
pub fn sum_f32(xs: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { sum_f32_avx2(xs) };
    }
    cascade(xs, f64::from)
}

/// The same code as `cascade`, compiled with AVX2 so the accumulators vectorise 4 wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_f64_avx2(xs: &[f64]) -> f64 {
    cascade(xs, |x| x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_f32_avx2(xs: &[f32]) -> f64 {
    cascade(xs, f64::from)
}

/// Sums blocks of `BLOCK` and combines the block sums as a binary tree (a binary counter over
/// a small stack), so the error bound is that of pairwise summation without recursion.
#[inline(always)]
fn cascade<T: Copy>(xs: &[T], f: impl Fn(T) -> f64 + Copy) -> f64 {
    let mut stack = [0.0f64; 64];
    let mut depth = 0;
    for (k, block) in xs.chunks(BLOCK).enumerate() {
        let mut s = block_sum(block, f);
        // Block k completes a pair at every level where k + 1 has a trailing zero bit.
        let mut carry = k + 1;
        while carry & 1 == 0 {
            depth -= 1;
            s += stack[depth];
            carry >>= 1;
        }
        stack[depth] = s;
        depth += 1;
    }
    stack[..depth].iter().rev().fold(0.0, |acc, &s| acc + s)
}

#[inline(always)]
fn block_sum<T: Copy>(xs: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0] + chunks.remainder().iter().map(|&x| f(x)).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_exact_on_small_integers() {
        // Miri interprets every addition: the largest case alone takes it minutes.
        let sizes: &[usize] = if cfg!(miri) {
            &[0, 1, 15, 16, 17, 255, 256, 257, 1_000]
        } else {
            &[0, 1, 15, 16, 17, 255, 256, 257, 10_007, 100_000]
        };
        for &n in sizes {
            let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let expected = (n * n.saturating_sub(1) / 2) as f64;
            assert_eq!(sum_f64(&xs), expected, "n = {n}");
            let ys: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
            let exp32: f64 = (0..n).map(|i| (i % 7) as f64).sum();
            assert_eq!(sum_f32(&ys), exp32, "n = {n}");
        }
    }

    #[test]
    fn error_stays_small_where_naive_summation_drifts() {
        let xs = vec![0.1f64; 10_000_000];
        let naive: f64 = xs.iter().sum();
        let ours = sum_f64(&xs);
        assert!((ours - 1_000_000.0).abs() < (naive - 1_000_000.0).abs());
        assert!((ours - 1_000_000.0).abs() < 1e-6);
    }
}
