/* The 3x5 bitmap font: each character is five rows of three bits (4: left
 * column, 2: middle, 1: right), top row first. */
#include <ctype.h>
#include <string.h>

#include "render/glyphs.h"

typedef struct {
    char c;
    uint8_t rows[5];
} glyph;

static const glyph FONT[] = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'A', {2, 5, 7, 5, 5}}, {'B', {6, 5, 6, 5, 6}},
    {'C', {3, 4, 4, 4, 3}}, {'D', {6, 5, 5, 5, 6}}, {'E', {7, 4, 6, 4, 7}}, {'F', {7, 4, 6, 4, 4}},
    {'G', {3, 4, 5, 5, 3}}, {'H', {5, 5, 7, 5, 5}}, {'I', {7, 2, 2, 2, 7}}, {'J', {1, 1, 1, 5, 2}},
    {'K', {5, 5, 6, 5, 5}}, {'L', {4, 4, 4, 4, 7}}, {'M', {5, 7, 7, 5, 5}}, {'N', {6, 5, 5, 5, 5}},
    {'O', {2, 5, 5, 5, 2}}, {'P', {6, 5, 6, 4, 4}}, {'Q', {2, 5, 5, 6, 3}}, {'R', {6, 5, 6, 5, 5}},
    {'S', {3, 4, 2, 1, 6}}, {'T', {7, 2, 2, 2, 2}}, {'U', {5, 5, 5, 5, 7}}, {'V', {5, 5, 5, 5, 2}},
    {'W', {5, 5, 7, 7, 5}}, {'X', {5, 5, 2, 5, 5}}, {'Y', {5, 5, 2, 2, 2}}, {'Z', {7, 1, 2, 4, 7}},
    {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}}, {'+', {0, 2, 7, 2, 0}}, {'=', {0, 7, 0, 7, 0}},
    {':', {0, 2, 0, 2, 0}}, {',', {0, 0, 0, 2, 4}}, {'(', {1, 2, 2, 2, 1}}, {')', {4, 2, 2, 2, 4}},
    {'_', {0, 0, 0, 0, 7}}, {'/', {1, 1, 2, 4, 4}}};

/* The rows of character c, or NULL when the font lacks it (space included). */
static const uint8_t *rows_of(char c) {
    char u = (char)toupper((unsigned char)c);
    for (size_t k = 0; k < sizeof FONT / sizeof FONT[0]; k++)
        if (FONT[k].c == u) return FONT[k].rows;
    return NULL;
}

int glyphs_width(const char *text, int scale) { return (int)strlen(text) * 4 * scale; }

void glyphs_draw(geoloc_image *img, int x, int y, int scale, const char *text, const uint8_t rgb[3]) {
    for (; *text; text++, x += 4 * scale) {
        const uint8_t *rows = rows_of(*text);
        for (int r = 0; rows && r < 5 * scale; r++)
            for (int c = 0; c < 3 * scale; c++) {
                int px = x + c, py = y + r;
                if (!(rows[r / scale] & (4 >> (c / scale))) || px < 0 || py < 0 || px >= img->width ||
                    py >= img->height)
                    continue;
                memcpy(img->rgb + ((size_t)py * (size_t)img->width + (size_t)px) * 3, rgb, 3);
            }
    }
}
