/* The rational approximation of erf(s) on [-4, 4] that the SIMD tiers of gelu.h share:
 * erf(s) = s * P(s^2) / Q(s^2), P of degree 6 and Q of degree 4 in s^2 (highest first). One copy,
 * so that every tier computes the same function and differs only in vector width. */
#ifndef NALA_CORE_NN_GELU_POLY_H
#define NALA_CORE_NN_GELU_POLY_H

#define NALA_ERF_CLAMP 4.0f
#define NALA_ERF_P6 (-2.72614225801306e-10f)
#define NALA_ERF_P5 2.77068142495902e-08f
#define NALA_ERF_P4 (-2.10102402082508e-06f)
#define NALA_ERF_P3 (-5.69250639462346e-05f)
#define NALA_ERF_P2 (-7.34990630326855e-04f)
#define NALA_ERF_P1 (-2.95459980854025e-03f)
#define NALA_ERF_P0 (-1.60960333262415e-02f)
#define NALA_ERF_Q4 (-1.45660718464996e-05f)
#define NALA_ERF_Q3 (-2.13374055278905e-04f)
#define NALA_ERF_Q2 (-1.68282697438203e-03f)
#define NALA_ERF_Q1 (-7.37332916720468e-03f)
#define NALA_ERF_Q0 (-1.42647390514189e-02f)

#endif
