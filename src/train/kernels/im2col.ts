/**
 * Transposed im2col for the filter gradient of a 2-D convolution: a [K, P] matrix with one
 * row per filter tap k = (fh, fw, c) (the order of a [fh, fw, cin, cout] filter) and one
 * column per output pixel p = (n, oh, ow), holding the input value that tap sees at that
 * pixel (zero over the padding). Then dW [K, cout] = patchesT · dy [P, cout], a plain
 * matmul, which is what the wasm backend's BatchMatMul does fast.
 *
 * Reading x in channel-major layout [C, N, H, W] makes each (tap, n, oh) a run of input
 * values along one image row: contiguous for stride 1.
 */

/** Geometry of a 2-D convolution as computed by backend_util.computeConv2DInfo. */
export interface ConvGeometry {
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * Writes NHWC `x` ([batch, height, width, channels] at float offset `src`) as [C, N, H, W]
 * at float offset `dst` of the same heap array.
 */
export function nhwcToChannelMajor(
  heap: Float32Array,
  src: number,
  dst: number,
  batch: number,
  pixelsPerImage: number,
  channels: number,
): void {
  const pixels = batch * pixelsPerImage;
  for (let p = 0; p < pixels; p++) {
    const from = src + p * channels;
    for (let c = 0; c < channels; c++) heap[dst + c * pixels + p] = heap[from + c];
  }
}

/**
 * Fills the [K, imageCount * outHeight * outWidth] patch matrix at float offset `dst` from
 * channel-major x (see nhwcToChannelMajor, holding `batch` images) for images
 * [firstImage, firstImage + imageCount).
 */
export function im2colTransposed(
  heap: Float32Array,
  xChannelMajor: number,
  dst: number,
  g: ConvGeometry,
  batch: number,
  firstImage: number,
  imageCount: number,
): void {
  const { inHeight, inWidth, outHeight, outWidth, strideWidth } = g;
  const imageSize = inHeight * inWidth;
  const channelSize = batch * imageSize;
  let out = dst;
  for (let fh = 0; fh < g.filterHeight; fh++) {
    for (let fw = 0; fw < g.filterWidth; fw++) {
      const colShift = fw * g.dilationWidth - g.padLeft;
      // Output columns whose input column lies inside the image: [owBegin, owEnd).
      const owBegin = Math.min(outWidth, Math.max(0, Math.ceil(-colShift / strideWidth)));
      const owEnd = Math.max(owBegin, Math.min(outWidth, Math.ceil((inWidth - colShift) / strideWidth)));
      for (let c = 0; c < g.inChannels; c++) {
        const channelBase = xChannelMajor + c * channelSize;
        for (let n = firstImage; n < firstImage + imageCount; n++) {
          const imageBase = channelBase + n * imageSize;
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * g.strideHeight + fh * g.dilationHeight - g.padTop;
            if (ih < 0 || ih >= inHeight) {
              heap.fill(0, out, out + outWidth);
              out += outWidth;
              continue;
            }
            const rowBase = imageBase + ih * inWidth + colShift;
            for (let ow = 0; ow < owBegin; ow++) heap[out + ow] = 0;
            for (let ow = owBegin; ow < owEnd; ow++) heap[out + ow] = heap[rowBase + ow * strideWidth];
            for (let ow = owEnd; ow < outWidth; ow++) heap[out + ow] = 0;
            out += outWidth;
          }
        }
      }
    }
  }
}
