// Self-running stream harness around the generated sense_core, for long simulations.
//
// The host writes a layer's stream contents to hex files and pulses `load`; `start` then
// plays the weight and pixel beats from memories and stores every result beat, with no
// Python on the per-cycle path. `done` rises after the last result; `dump` writes the
// results to a hex file. Random source idles and result back-pressure come from LFSRs:
// a stream stalls in a cycle when its 16 random bits are below `*_stall` (x/65536).
//
// Cycle 0 is the cycle after `start`; `cycles` counts up to and including the cycle in
// which the last result beat is accepted, as sense_models.cycle_model does. `extra` is set
// if the core offers a result beat after the last expected one.
//
// ABFT and fault-injection builds (defines SENSE_STATUS, SENSE_FAULTS) pass the core's
// `status` out and its `fault` control in; the fault's start cycle is given relative to
// cycle 0 and converted here to the core's own count (cycles since reset); `origin` is
// cycle 0 in that count. `fault` is sampled as `rst` rises and the stream lengths during the
// reset: a driver sets them before it.
module sense_bench #(
    parameter WEIGHT_W = 8,
    parameter PIXEL_W = 8,
    parameter RESULT_W = 8,
    parameter WEIGHT_DEPTH = 1024,
    parameter PIXEL_DEPTH = 1024,
    parameter RESULT_DEPTH = 1024,
    parameter STATUS_W = 1,
    parameter FAULT_W = 56
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        load,
    input  wire        start,
    input  wire        dump,
    input  wire [31:0] n_weights,
    input  wire [31:0] n_pixels,
    input  wire [31:0] n_results,
    input  wire [15:0] source_stall,
    input  wire [15:0] sink_stall,
    input  wire [31:0] lfsr_seed,
`ifdef SENSE_STATUS
    output wire [STATUS_W-1:0] status,
`endif
`ifdef SENSE_FAULTS
    input  wire [FAULT_W-1:0] fault,
`endif
    output reg         done,
    output reg         extra,
    output reg  [31:0] cycles,
    output reg  [31:0] received,
    output reg  [31:0] origin
);
    reg [WEIGHT_W-1:0] weight_mem [0:WEIGHT_DEPTH-1];
    reg [PIXEL_W-1:0]  pixel_mem  [0:PIXEL_DEPTH-1];
    reg [RESULT_W-1:0] result_mem [0:RESULT_DEPTH-1];

    always @(posedge clk) begin
        if (load) begin
            $readmemh("bench_weights.hex", weight_mem, 0, n_weights - 1);
            $readmemh("bench_pixels.hex", pixel_mem, 0, n_pixels - 1);
        end
        if (dump)
            $writememh("bench_results.hex", result_mem, 0, n_results - 1);
    end

    // Three Galois LFSRs (x^32 + x^22 + x^2 + x + 1), one per stream.
    reg [31:0] lfsr [0:2];
    integer s;
    always @(posedge clk) begin
        for (s = 0; s < 3; s = s + 1) begin
            if (start)
                lfsr[s] <= (lfsr_seed ^ (32'h9e3779b9 * (s + 1))) | 32'h1;  // never all-zero
            else
                lfsr[s] <= {1'b0, lfsr[s][31:1]} ^ (lfsr[s][0] ? 32'h80200003 : 32'h0);
        end
    end

    reg         running;
    reg  [31:0] count;
    reg  [31:0] weight_index;
    reg  [31:0] pixel_index;
    reg         weight_go, pixel_go, result_go;

    // The lengths the `valid` wires compare with, sampled in reset (drivers set them before
    // it; nothing reads them before `start`): registers rather than ports, as `fault_q` below.
    reg  [31:0] n_weights_q, n_pixels_q;
    always @(posedge clk) begin
        if (rst) begin
            n_weights_q <= n_weights;
            n_pixels_q <= n_pixels;
        end
    end

    wire weight_valid = running && weight_index < n_weights_q && weight_go;
    wire pixel_valid  = running && pixel_index < n_pixels_q && pixel_go;
    wire result_ready = (running && result_go) || done;
    wire weight_ready, pixel_ready, result_valid;
    wire [RESULT_W-1:0] result_payload;

`ifdef SENSE_FAULTS
    // The fault control as it was when `rst` rose (every driver sets it before the reset),
    // held in a register rather than read from the port: Verilator evaluates all logic fed
    // combinationally by a top-level input at every eval, twice a clock, and every fault
    // site reads it (the 8x8 with abft=both simulated ~4x slower reading the port directly).
    reg [FAULT_W-1:0] fault_q;
    always @(posedge rst) fault_q <= fault;
`endif

    // The core counts cycles from reset; cycle 0 here is `origin` there.
    reg [31:0] since_reset;
    always @(posedge clk) begin
        if (rst)
            since_reset <= 32'd0;
        else
            since_reset <= since_reset + 32'd1;
        if (start)
            origin <= since_reset + 32'd1;
    end

    sense_core core (
        .clk(clk),
        .rst(rst),
`ifdef SENSE_STATUS
        .status(status),
`endif
`ifdef SENSE_FAULTS
        // fault = {start[31:0], mode, bit, site} (sense_models.formats.fault_format)
        .fault({fault_q[FAULT_W-1:FAULT_W-32] + origin, fault_q[FAULT_W-33:0]}),
`endif
        .weights__payload(weight_mem[weight_index[$clog2(WEIGHT_DEPTH)-1:0]]),
        .weights__valid(weight_valid),
        .weights__ready(weight_ready),
        .pixels__payload(pixel_mem[pixel_index[$clog2(PIXEL_DEPTH)-1:0]]),
        .pixels__valid(pixel_valid),
        .pixels__ready(pixel_ready),
        .results__payload(result_payload),
        .results__valid(result_valid),
        .results__ready(result_ready)
    );

    always @(posedge clk) begin
        if (rst || start) begin
            running <= start;
            done <= 1'b0;
            extra <= 1'b0;
            count <= 32'd0;
            cycles <= 32'd0;
            received <= 32'd0;
            weight_index <= 32'd0;
            pixel_index <= 32'd0;
            weight_go <= 1'b1;
            pixel_go <= 1'b1;
            result_go <= 1'b1;
        end else if (done && result_valid) begin
            extra <= 1'b1;
        end else if (running) begin
            count <= count + 32'd1;
            // A source may only go idle between beats: valid holds until its transfer.
            if (!(weight_valid && !weight_ready))
                weight_go <= lfsr[0][15:0] >= source_stall;
            if (!(pixel_valid && !pixel_ready))
                pixel_go <= lfsr[1][15:0] >= source_stall;
            result_go <= lfsr[2][15:0] >= sink_stall;
            if (weight_valid && weight_ready)
                weight_index <= weight_index + 32'd1;
            if (pixel_valid && pixel_ready)
                pixel_index <= pixel_index + 32'd1;
            if (result_valid && result_ready) begin
                result_mem[received[$clog2(RESULT_DEPTH)-1:0]] <= result_payload;
                received <= received + 32'd1;
                if (received + 32'd1 == n_results) begin
                    running <= 1'b0;
                    done <= 1'b1;
                    cycles <= count + 32'd1;
                end
            end
        end
    end
endmodule
