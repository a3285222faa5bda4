/* The 3x5 bitmap font: each character is five rows of three bits (4: left
 * column, 2: middle, 1: right), top row first. */
#include <string.h>

#include "render/glyphs.h"

static const char CHARS[] = "0123456789.-+=p ";
static const uint8_t ROWS[][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
    {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}, {0, 0, 0, 0, 2}, {0, 0, 7, 0, 0},
    {0, 2, 7, 2, 0}, {0, 7, 0, 7, 0}, {0, 7, 5, 7, 4}, {0, 0, 0, 0, 0}};

int glyphs_width(const char *text, int scale) { return (int)strlen(text) * 4 * scale; }

void glyphs_draw(geoloc_image *img, int x, int y, int scale, const char *text, const uint8_t rgb[3]) {
    for (; *text; text++, x += 4 * scale) {
        const char *at = strchr(CHARS, *text);
        if (!at) continue;
        const uint8_t *rows = ROWS[at - CHARS];
        for (int r = 0; r < 5 * scale; r++)
            for (int c = 0; c < 3 * scale; c++) {
                int px = x + c, py = y + r;
                if (!(rows[r / scale] & (4 >> (c / scale))) || px < 0 || py < 0 || px >= img->width ||
                    py >= img->height)
                    continue;
                memcpy(img->rgb + ((size_t)py * (size_t)img->width + (size_t)px) * 3, rgb, 3);
            }
    }
}
