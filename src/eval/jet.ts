/**
 * The jet colour map, as Grad-CAM figures conventionally use (OpenCV's COLORMAP_JET): dark blue (0)
 * through cyan, green (0.5) and yellow to dark red (1). Out-of-range and NaN heat clamps. 8-bit RGB.
 */
export function jet(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const ramp = (centre: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * x - centre))));
  return [ramp(3), ramp(2), ramp(1)];
}
